/** `underlay modules [NAME]`: the module reference, from the same schemas the loader checks. */
import { EXIT, InputError } from '../errors.js';
import { suggest } from '../modules/params.js';
import { allModules, lookupModule, moduleNames } from '../modules/registry.js';
import type { ModuleDef } from '../modules/types.js';
import type { Io } from './main.js';

/** One line per module: `| name | first sentence |` (the README's table). */
export function moduleTable(): string {
  const rows = allModules().map((d) => `| \`${d.name}\` | ${d.description.split(/(?<=\.)\s/)[0]} |`);
  return ['| module | purpose |', '|---|---|', ...rows].join('\n') + '\n';
}

export function moduleDoc(def: ModuleDef): string {
  const lines = [`${def.name}: ${def.description}`, ''];
  if (def.schema.freeForm) lines.push(`Free-form text fills '${def.schema.freeForm}'.`, '');
  lines.push('Parameters:');
  for (const [name, spec] of Object.entries(def.schema.params)) {
    const bits = [spec.type + (spec.elements ? ` of ${spec.elements}` : '')];
    if (spec.required) bits.push('required');
    if (spec.default !== undefined) bits.push(`default ${JSON.stringify(spec.default)}`);
    if (spec.choices) bits.push(`one of ${spec.choices.join(', ')}`);
    if (spec.aliases?.length) bits.push(`aliases ${spec.aliases.join(', ')}`);
    lines.push(`  ${name} (${bits.join('; ')})`, `      ${spec.description}`);
  }
  for (const g of def.schema.requiredOneOf ?? []) lines.push(`One of ${g.join(', ')} is required.`);
  for (const g of def.schema.mutuallyExclusive ?? []) lines.push(`${g.join(' and ')} are mutually exclusive.`);
  return lines.join('\n') + '\n';
}

export function modulesCommand(args: string[], io: Io): number {
  if (args.length === 0) {
    io.out(moduleTable());
    return EXIT.OK;
  }
  for (const name of args) {
    const def = lookupModule(name);
    if (!def) throw new InputError(`no module '${name}'${suggest(name, moduleNames())}`);
    io.out(moduleDoc(def));
  }
  return EXIT.OK;
}
