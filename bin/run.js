#!/usr/bin/env node
// bkg / cavectl entry shim: hands argv to oclif, which loads the command from dist/commands.
import { execute } from '@oclif/core';

await execute({ dir: import.meta.url });
