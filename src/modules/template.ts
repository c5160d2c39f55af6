/**
 * The `template` module (Ansible's `template`, with Handlebars instead of Jinja2): renders
 * a controller template (searched in templates/) with the task's variables, then puts
 * the result on the host exactly as `copy` does (planFile: compared by sha256, upload,
 * backup, validate, mode/owner/group). Rendering is strict: an undefined variable fails
 * the task with the template's file, line and column.
 */
import { fileWriteParams, observeWrite, planFile, type DestFacts } from './copy.js';
import type { ModuleDef } from './types.js';

export interface TemplateParams extends Record<string, unknown> {
  src: string;
  dest: string;
  mode?: number;
  owner?: string;
  group?: string;
  backup: boolean;
  force: boolean;
  validate?: string;
}

export interface TemplateObserved {
  /** The destination, after resolving a directory to DIR/basename(src). */
  dest: string;
  /** The template file rendered (controller path). */
  source: string;
  content: Buffer;
  facts: DestFacts;
  createParent: boolean;
  error?: string;
}

export const template: ModuleDef<TemplateParams, TemplateObserved> = {
  name: 'template',
  description:
    'Render a Handlebars template of the controller (searched in templates/) with the task\'s variables and put the result on the host, compared by sha256; an undefined variable is an error naming the template\'s file and line.',
  schema: {
    params: {
      src: { type: 'path', required: true, description: 'The template, looked for in the role\'s and playbook\'s templates/ directories (or an absolute path).' },
      ...fileWriteParams,
    },
  },
  async observe(ctx, p) {
    const rendered = await ctx.renderTemplate(p.src);
    const content = Buffer.from(rendered.content, 'utf8');
    const w = await observeWrite(ctx, { dest: p.dest, source: p.src, backup: p.backup }, content);
    return { ...w, source: rendered.path, content };
  },
  decide(p, o, env) {
    if (o.error !== undefined) return { changed: false, actions: [], failed: `template: ${o.error}`, result: { dest: o.dest } };
    const d = planFile({
      module: 'template',
      checkMode: env.checkMode,
      dest: o.dest,
      content: o.content,
      facts: o.facts,
      backup: p.backup,
      force: p.force,
      createParent: o.createParent,
      ...(p.validate !== undefined ? { validate: p.validate } : {}),
      ...(p.mode !== undefined ? { mode: p.mode } : {}),
      ...(p.owner !== undefined ? { owner: p.owner } : {}),
      ...(p.group !== undefined ? { group: p.group } : {}),
    }).decision;
    return { ...d, result: { ...d.result, src: o.source } };
  },
};
