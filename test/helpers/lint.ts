/** The import-direction rule of eslint.config.js, asked about one file's text: its messages. */
import { ESLint } from 'eslint';

const eslint = new ESLint();

export async function layerErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports' || m.ruleId === 'no-restricted-syntax').map((m) => m.message);
}
