/** Recognise SQLite constraint failures so repositories can report them as BkgErrors. */
import Database from 'better-sqlite3';

export type ConstraintKind = 'unique' | 'primarykey' | 'foreignkey' | 'check' | 'notnull';

/** The kind of constraint an error from better-sqlite3 reports, or undefined for any other error. */
export function constraintKind(err: unknown): ConstraintKind | undefined {
  if (!(err instanceof Database.SqliteError)) return undefined;
  switch (err.code) {
    case 'SQLITE_CONSTRAINT_UNIQUE':
      return 'unique';
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
      return 'primarykey';
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return 'foreignkey';
    case 'SQLITE_CONSTRAINT_CHECK':
      return 'check';
    case 'SQLITE_CONSTRAINT_NOTNULL':
      return 'notnull';
    default:
      return undefined;
  }
}
