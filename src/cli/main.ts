/**
 * argv -> options -> commands. The one place that maps errors to exit codes.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT, InputError, inputErrorsOf, UnderlayError } from '../errors.js';
import { Secrets } from '../vars/secrets.js';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

const defaultIo = (): Io => ({
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: Boolean(process.stdout.isTTY),
  env: process.env,
});

const USAGE = `underlay: an SSH task runner for YAML playbooks

Usage:
  underlay run PLAYBOOK -i INVENTORY [options]      run a playbook
  underlay inventory -i INVENTORY --list|--graph [GROUP]|--list-hosts PATTERN
  underlay lab up|down|status [options]             a local lab of real hosts (root)
  underlay modules [NAME...]                        the modules, or one module's parameters
  underlay schema                                   print the playbook JSON Schema
  underlay --version | --help

'underlay run --help', 'underlay inventory --help', 'underlay lab --help' for options.
Exit codes: 0 ok, 1 internal error, 2 a host failed, 3 a host unreachable (none failed),
4 bad input, 5 not idempotent (--verify-idempotent), 6 environment (e.g. lab not as root).
`;

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Did this command run a play (bin/underlay.js writes the code cache then: it holds what a
 * run compiles)? A `run` that stopped at its input or only listed or checked does not.
 */
export function ranPlay(argv: readonly string[], code: number): boolean {
  if (argv[0] !== 'run') return false;
  if (!([EXIT.OK, EXIT.HOST_FAILED, EXIT.HOST_UNREACHABLE, EXIT.NOT_IDEMPOTENT] as number[]).includes(code)) return false;
  return !argv.some((a) => a === '--syntax-check' || a === '--list-hosts' || a === '--list-tasks' || a === '--list-tags' || a === '--help' || a === '-h');
}

/** parseArgs with errors turned into InputError (exit 4). */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, what: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new InputError(`${what}: ${(e as Error).message}`);
  }
}

export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  const secrets = new Secrets();
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.out(USAGE);
        return cmd === undefined ? EXIT.BAD_INPUT : EXIT.OK;
      case '--version':
      case 'version':
        io.out(`underlay ${version()}\n`);
        return EXIT.OK;
      case 'run': {
        const { runCommand } = await import('./run.js');
        return await runCommand(rest, io, secrets);
      }
      case 'inventory': {
        const { inventoryCommand } = await import('./inventory.js');
        return await inventoryCommand(rest, io);
      }
      case 'lab': {
        const { labCommand } = await import('./lab.js');
        return await labCommand(rest, io);
      }
      case 'modules': {
        const { modulesCommand } = await import('./modules.js');
        return modulesCommand(rest, io);
      }
      case 'schema': {
        const { playbookSchema } = await import('../playbook/schema.js');
        io.out(JSON.stringify(playbookSchema(), null, 2) + '\n');
        return EXIT.OK;
      }
      default:
        throw new InputError(`unknown command '${cmd}' (try 'underlay --help')`);
    }
  } catch (e) {
    return reportError(e, io, secrets);
  }
}

/** Prints an error (masked) and returns its exit code. */
export function reportError(e: unknown, io: Io, secrets: Secrets): number {
  const inputs = inputErrorsOf(e);
  if (inputs.length > 0) {
    for (const ie of inputs) io.err(secrets.mask(`error: ${ie.message}`) + '\n');
    if (inputs.length > 1) io.err(`${inputs.length} errors\n`);
    return EXIT.BAD_INPUT;
  }
  if (e instanceof UnderlayError) {
    io.err(secrets.mask(`error: ${e.message}`) + '\n');
    return e.exitCode;
  }
  io.err(secrets.mask(`underlay: internal error: ${(e as Error)?.stack ?? String(e)}`) + '\n');
  return EXIT.INTERNAL;
}
