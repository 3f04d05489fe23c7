/** A mistake in the command line: printed with "Try --help." and exit code 2. @module */

/** A mistake in the command line (a flag's value, a missing argument). */
export class UsageError extends Error {}
