// An error meant for the user: printed as one line, no stack trace, with an exit code.
// Exit 2 is "bad input" (a corrupt file, a bad flag value), as for ovs-ofctl and most Unix tools.
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.exitCode = exitCode;
  }
}
