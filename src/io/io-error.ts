// IoError: a malformed or unreadable file, returned in an Either (data errors are not bugs).
import { E } from '../fp.js';

export type IoWhere = { file?: string; tensor?: string; field?: string };

export class IoError extends Error {
  readonly problem: string;
  readonly file: string | undefined;
  readonly tensor: string | undefined;
  readonly field: string | undefined;

  constructor(problem: string, where: IoWhere = {}) {
    const prefix = [
      where.file,
      where.tensor === undefined ? undefined : `tensor ${JSON.stringify(where.tensor)}`,
      where.field,
    ].filter((s) => s !== undefined);
    super([...prefix, problem].join(': '));
    this.name = 'IoError';
    this.problem = problem;
    this.file = where.file;
    this.tensor = where.tensor;
    this.field = where.field;
  }

  /** The same error, attributed to `file` when it has no file yet. */
  inFile(file: string | undefined): IoError {
    return this.file !== undefined || file === undefined
      ? this
      : new IoError(this.problem, { file, tensor: this.tensor, field: this.field });
  }
}

export const ioFail = <A = never>(problem: string, where: IoWhere = {}): E.Either<IoError, A> =>
  E.left(new IoError(problem, where));
