import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalChannel } from '../engine/channel.js';
import { EventBus, type HostResultEvent } from '../engine/events.js';
import { runPlaybook } from '../engine/run.js';
import { loadInventory } from '../inventory/index.js';
import { loadPlaybook } from '../playbook/load.js';
import { lazyVars, mergeLayers, originOf, PRECEDENCE } from './precedence.js';
import { Secrets } from './secrets.js';
import { TemplateError, UndefinedVariableError } from '../errors.js';
import { evaluate, parseExpression, UndefinedError } from '../expr/index.js';

describe('mergeLayers', () => {
  it('a later layer replaces the whole value of an earlier one, in the documented order', () => {
    const layers = Object.fromEntries(PRECEDENCE.map((l) => [l, { v: l, [`only_${l.replace(/\W/g, '_')}`]: 1, d: { from: l } }]));
    for (let i = 0; i < PRECEDENCE.length; i++) {
      const upTo = Object.fromEntries(PRECEDENCE.slice(0, i + 1).map((l) => [l, layers[l]]));
      expect(mergeLayers(upTo)['v']).toBe(PRECEDENCE[i]);
      expect(mergeLayers(upTo)['d']).toEqual({ from: PRECEDENCE[i] });
      expect(originOf(upTo, 'v')).toBe(PRECEDENCE[i]);
    }
    expect(mergeLayers({ 'extra vars': { inventory_hostname: 'x' } }, { inventory_hostname: 'h1' })['inventory_hostname']).toBe('h1');
  });

  it('lazy templating resolves references when read, and detects loops', () => {
    const v = lazyVars({ a: '{{ b }}-x', b: '{{ c }}', c: 3, list: ['{{ c }}', 'k'], loop1: '{{ loop2 }}', loop2: '{{ loop1 }}' });
    expect(v['a']).toBe('3-x');
    expect(v['b']).toBe(3);
    expect(v['list']).toEqual([3, 'k']);
    expect(() => v['loop1']).toThrow(/variable loop: loop1 -> loop2 -> loop1/);
  });
});

describe('precedence through a real run (role defaults < inventory < play vars < vars_files < role vars < role params < task vars < facts < extra vars)', () => {
  const dir = resolve(__dirname, '../../test/fixtures/precedence');
  async function msg(extra: Record<string, unknown> = {}): Promise<string[]> {
    const bus = new EventBus();
    const results: HostResultEvent[] = [];
    bus.on((e) => e.type === 'host_result' && results.push(e));
    const r = await runPlaybook({
      playbook: loadPlaybook(join(dir, 'site.yml')),
      inventory: loadInventory([join(dir, 'inventory.yml')]),
      secrets: new Secrets(),
      bus,
      extraVars: extra,
      connect: async () => new LocalChannel(),
    });
    expect(r.exitCode).toBe(0);
    return String(results.find((e) => e.task === 'r : report')!.msg).split('|');
  }

  it('each variable is won by the highest layer that sets it', async () => {
    expect(await msg()).toEqual(['role-defaults', 'inventory', 'play-vars', 'vars-files', 'role-vars', 'role-params', 'task-vars', 'fact', 'fact', 'child', 'host', 'fact-seen-lazily']);
  });

  it('extra vars win over everything, facts included', async () => {
    expect((await msg({ v9: 'extra', v1: 'extra' })).slice(0, 9)).toEqual(['extra', 'inventory', 'play-vars', 'vars-files', 'role-vars', 'role-params', 'task-vars', 'fact', 'extra']);
  });
});

describe('a variable whose template uses an undefined variable', () => {
  const view = () => lazyVars({ x: '{{ nothing_here }}', y: 'plain', z: '{{ x }}', w: '{{#if }}' });
  const ev = (src: string) => evaluate(parseExpression(src), view());

  it('is undefined in expressions, as in Ansible: `is defined` false, default taken', () => {
    expect(ev('x is defined')).toBe(false);
    expect(ev('x is undefined')).toBe(true);
    expect(ev("x | default('fallback')")).toBe('fallback');
    expect(ev('y is defined')).toBe(true);
    // through another variable too
    expect(ev('z is defined')).toBe(false);
  });

  it('names the variable that is missing when it is used', () => {
    expect(() => ev('x == 1')).toThrow(UndefinedError);
    expect(() => ev('x == 1')).toThrow(/nothing_here/);
  });

  it('is still an error when its template is broken', () => {
    expect(() => ev('w is defined')).toThrow(TemplateError);
    expect(() => ev('w is defined')).not.toThrow(UndefinedVariableError);
  });
});
