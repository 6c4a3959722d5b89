import { Command, CommanderError } from 'commander';
import { CloudflinkError } from '../errors/index.ts';
import { registerClusterCommands } from './commands/cluster.ts';
import { registerJobCommands } from './commands/jobs.ts';
import { registerNodeCommands } from './commands/nodes.ts';
import { registerRunCommand } from './commands/run.ts';

export function buildProgram(): Command {
  const program = new Command('cloudflink')
    .description('a distributed stream processing engine in TypeScript, in the mould of Apache Flink, on NATS')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError();
  registerClusterCommands(program);
  registerNodeCommands(program);
  registerRunCommand(program);
  registerJobCommands(program);
  return program;
}

/** Runs the CLI; errors print as one clear line (the code, then what to do) and exit non-zero. */
export async function main(argv: string[]): Promise<void> {
  // `cloudflink events | head` closes the pipe early; that is the reader's choice, not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode);
    const message = error instanceof CloudflinkError ? `${error.message} [${error.code}]` : error instanceof Error ? error.message : String(error);
    process.stderr.write(`cloudflink: ${message}\n`);
    process.exit(2);
  }
}
