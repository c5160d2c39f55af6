import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dirAnswer, STAT_FIXTURES, statsOutput, type StatFixtureName } from '../facts/stat.fixtures.js';
import { modeText } from '../facts/stat.js';
import { editLines, lineinfile, lineinfileCommands, parseLineinfileObserved, splitLines, type LineParams } from './lineinfile.js';
import { checkParams } from './params.js';
import type { Action, Decision, ExecResult } from './types.js';

interface Case {
  name: string;
  content: string | null;
  params: LineParams & { line?: string };
  expected: { changed: boolean; msg: string; content: string; found?: number };
}

/**
 * Each case with what Ansible's lineinfile.py (ansible-core 2.14) gives for it: recorded by
 * running its present()/absent() in check mode with diff (the script below); the last test
 * re-checks them against Ansible itself when it is installed.
 */
const CASES: Case[] = [
  { name: "line already present: nothing to do", content: "a\nb\nc\n", params: { line: "b" }, expected: { changed: false, msg: "", content: "a\nb\nc\n" } },
  { name: "appended at EOF by default", content: "a\nb\n", params: { line: "c" }, expected: { changed: true, msg: "line added", content: "a\nb\nc\n" } },
  { name: "appended after a last line without newline (a newline is added first)", content: "a\nb", params: { line: "c" }, expected: { changed: true, msg: "line added", content: "a\nb\nc\n" } },
  { name: "empty file", content: "", params: { line: "x" }, expected: { changed: true, msg: "line added", content: "x\n" } },
  { name: "missing file (create)", content: null, params: { line: "x" }, expected: { changed: true, msg: "line added", content: "x\n" } },
  { name: "regexp replaces the LAST match", content: "port=1\nx\nport=2\ny\n", params: { regexp: "^port=", line: "port=9" }, expected: { changed: true, msg: "line replaced", content: "port=1\nx\nport=9\ny\n" } },
  { name: "regexp with firstmatch replaces the first match", content: "port=1\nx\nport=2\ny\n", params: { regexp: "^port=", line: "port=9", firstmatch: true }, expected: { changed: true, msg: "line replaced", content: "port=9\nx\nport=2\ny\n" } },
  { name: "regexp matches, line already equal: nothing", content: "port=9\n", params: { regexp: "^port=", line: "port=9" }, expected: { changed: false, msg: "", content: "port=9\n" } },
  { name: "regexp no match: appended", content: "a\n", params: { regexp: "^port=", line: "port=9" }, expected: { changed: true, msg: "line added", content: "a\nport=9\n" } },
  { name: "regexp no match but line present: nothing", content: "a\nport 9\n", params: { regexp: "^port=", line: "port 9" }, expected: { changed: false, msg: "", content: "a\nport 9\n" } },
  { name: "regexp $ matches before the line's newline (Python semantics)", content: "key = v1\nother\n", params: { regexp: "^key = v1$", line: "key = v2" }, expected: { changed: true, msg: "line replaced", content: "key = v2\nother\n" } },
  { name: "regexp replaces a last line without newline (adds it)", content: "a\nport=1", params: { regexp: "^port=", line: "port=2" }, expected: { changed: true, msg: "line replaced", content: "a\nport=2\n" } },
  { name: "exact line without final newline counts as replaced (adds the newline)", content: "a\nb", params: { line: "b" }, expected: { changed: true, msg: "line replaced", content: "a\nb\n" } },
  { name: "CRLF line matches exactly, and is rewritten with LF (as Ansible)", content: "a\r\nb\r\n", params: { line: "b" }, expected: { changed: true, msg: "line replaced", content: "a\r\nb\n" } },
  { name: "insertafter regex: after the LAST match", content: "[s]\nk=1\n[s]\nk=2\nend\n", params: { insertafter: "^\\[s\\]", line: "new" }, expected: { changed: true, msg: "line added", content: "[s]\nk=1\n[s]\nnew\nk=2\nend\n" } },
  { name: "insertafter regex with firstmatch: after the first match", content: "[s]\nk=1\n[s]\nk=2\nend\n", params: { insertafter: "^\\[s\\]", line: "new", firstmatch: true }, expected: { changed: true, msg: "line added", content: "[s]\nnew\nk=1\n[s]\nk=2\nend\n" } },
  { name: "insertafter regex no match: EOF", content: "a\nb\n", params: { insertafter: "^zzz", line: "new" }, expected: { changed: true, msg: "line added", content: "a\nb\nnew\n" } },
  { name: "insertafter: line already right after the match: nothing", content: "[s]\nnew\nx\n", params: { insertafter: "^\\[s\\]", line: "new" }, expected: { changed: false, msg: "", content: "[s]\nnew\nx\n" } },
  { name: "insertafter matching the last line: appended", content: "a\n[s]\n", params: { insertafter: "^\\[s\\]", line: "new" }, expected: { changed: true, msg: "line added", content: "a\n[s]\nnew\n" } },
  { name: "insertafter matching a last line without newline (Ansible adds no newline there)", content: "a\n[s]", params: { insertafter: "^\\[s\\]", line: "new" }, expected: { changed: true, msg: "line added", content: "a\n[s]new\n" } },
  { name: "insertafter EOF explicitly", content: "a\n", params: { insertafter: "EOF", line: "z" }, expected: { changed: true, msg: "line added", content: "a\nz\n" } },
  { name: "insertafter BOF", content: "a\nb\n", params: { insertafter: "BOF", line: "z" }, expected: { changed: true, msg: "line added", content: "z\na\nb\n" } },
  { name: "insertbefore regex: before the LAST match", content: "x\n# end\ny\n# end\n", params: { insertbefore: "^# end", line: "new" }, expected: { changed: true, msg: "line added", content: "x\n# end\ny\nnew\n# end\n" } },
  { name: "insertbefore regex with firstmatch", content: "x\n# end\ny\n# end\n", params: { insertbefore: "^# end", line: "new", firstmatch: true }, expected: { changed: true, msg: "line added", content: "x\nnew\n# end\ny\n# end\n" } },
  { name: "insertbefore regex no match: EOF", content: "a\n", params: { insertbefore: "^zzz", line: "new" }, expected: { changed: true, msg: "line added", content: "a\nnew\n" } },
  { name: "insertbefore BOF", content: "a\nb\n", params: { insertbefore: "BOF", line: "z" }, expected: { changed: true, msg: "line added", content: "z\na\nb\n" } },
  { name: "insertbefore the first line", content: "a\nb\n", params: { insertbefore: "^a", line: "z" }, expected: { changed: true, msg: "line added", content: "z\na\nb\n" } },
  { name: "regexp matched: insertafter ignored, line replaced", content: "k=1\n[s]\n", params: { regexp: "^k=", insertafter: "^\\[s\\]", line: "k=2" }, expected: { changed: true, msg: "line replaced", content: "k=2\n[s]\n" } },
  { name: "regexp not matched: insertbefore honoured", content: "a\n[s]\nb\n", params: { regexp: "^k=", insertbefore: "^\\[s\\]", line: "k=2" }, expected: { changed: true, msg: "line added", content: "a\nk=2\n[s]\nb\n" } },
  { name: "backrefs: groups expanded", content: "listen 80 default\n", params: { regexp: "^listen (\\d+) (\\w+)$", line: "listen \\1 \\2 ssl", backrefs: true }, expected: { changed: true, msg: "line replaced", content: "listen 80 default ssl\n" } },
  { name: "backrefs: named group and \\g<0>", content: "x=1\n", params: { regexp: "^(?P<k>\\w+)=(\\d)", line: "\\g<k> is \\2 (\\g<0>)", backrefs: true }, expected: { changed: true, msg: "line replaced", content: "x is 1 (x=1)\n" } },
  { name: "backrefs with no match leaves the file unchanged", content: "a\nb\n", params: { regexp: "^zzz(\\d)", line: "z\\1", backrefs: true }, expected: { changed: false, msg: "", content: "a\nb\n" } },
  { name: "backrefs, result already there: nothing", content: "v=2 ok\n", params: { regexp: "^v=(\\d)( ok)?$", line: "v=\\1 ok", backrefs: true }, expected: { changed: false, msg: "", content: "v=2 ok\n" } },
  { name: "search_string replaces the last line containing it", content: "a foo\nb\nc foo\n", params: { search_string: "foo", line: "FOO" }, expected: { changed: true, msg: "line replaced", content: "a foo\nb\nFOO\n" } },
  { name: "search_string with firstmatch", content: "a foo\nb\nc foo\n", params: { search_string: "foo", line: "FOO", firstmatch: true }, expected: { changed: true, msg: "line replaced", content: "FOO\nb\nc foo\n" } },
  { name: "search_string is literal (no regex)", content: "a.*b\naxxb\n", params: { search_string: "a.*b", line: "lit" }, expected: { changed: true, msg: "line replaced", content: "lit\naxxb\n" } },
  { name: "search_string no match: appended", content: "a\n", params: { search_string: "zz", line: "new" }, expected: { changed: true, msg: "line added", content: "a\nnew\n" } },
  { name: "empty regexp matches every line: the last is replaced", content: "a\nb\n", params: { regexp: "", line: "z" }, expected: { changed: true, msg: "line replaced", content: "a\nz\n" } },
  { name: "regexp searches anywhere in the line (not anchored)", content: "xx key yy\n", params: { regexp: "key", line: "k" }, expected: { changed: true, msg: "line replaced", content: "k\n" } },
  { name: "absent: every exact line removed", content: "a\nb\na\nab\n", params: { state: "absent", line: "a" }, expected: { changed: true, msg: "2 line(s) removed", content: "b\nab\n", found: 2 } },
  { name: "absent: regexp removes every match", content: "#1\nx\n#2\n", params: { state: "absent", regexp: "^#" }, expected: { changed: true, msg: "2 line(s) removed", content: "x\n", found: 2 } },
  { name: "absent: search_string", content: "a foo\nb\nfoo c\n", params: { state: "absent", search_string: "foo" }, expected: { changed: true, msg: "2 line(s) removed", content: "b\n", found: 2 } },
  { name: "absent: nothing matches", content: "a\nb\n", params: { state: "absent", line: "z" }, expected: { changed: false, msg: "", content: "a\nb\n", found: 0 } },
  { name: "absent: CRLF and a last line without newline", content: "a\r\nb\na", params: { state: "absent", line: "a" }, expected: { changed: true, msg: "2 line(s) removed", content: "b\n", found: 2 } },
  { name: "absent: missing file", content: null, params: { state: "absent", line: "a" }, expected: { changed: false, msg: "file not present", content: "" } },
  { name: "(?i) flag at the start", content: "PORT=1\n", params: { regexp: "(?i)^port=", line: "port=2" }, expected: { changed: true, msg: "line replaced", content: "port=2\n" } },
];

describe('editLines: Ansible\'s algorithm', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const r = editLines(c.content, c.params);
      expect({ changed: r.changed, msg: r.msg, content: r.content, ...(r.found !== undefined ? { found: r.found } : {}) }).toEqual(c.expected);
    });
  }

  it('splits lines as Python readlines() on bytes: after \\n only', () => {
    expect(splitLines('a\nb\r\nc\rd')).toEqual(['a\n', 'b\r\n', 'c\rd']);
    expect(splitLines('')).toEqual([]);
    expect(splitLines('\n\n')).toEqual(['\n', '\n']);
  });

  it('throws on a bad regular expression or group reference', () => {
    expect(() => editLines('a\n', { regexp: '(', line: 'x' })).toThrow(/bad regular expression/);
    expect(() => editLines('a\n', { regexp: '^(a)', line: '\\2', backrefs: true })).toThrow(/invalid group reference/);
  });

  const PY = '/usr/bin/python3';
  const hasAnsible = spawnSync(PY, ['-c', 'import ansible.modules.lineinfile'], { encoding: 'utf8' }).status === 0;
  it.runIf(hasAnsible)('agrees with Ansible\'s own lineinfile.py on every case', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ul-li-'));
    try {
      const script = join(dir, 'run.py');
      writeFileSync(script, ANSIBLE_HARNESS);
      const r = spawnSync(PY, [script], { input: JSON.stringify(CASES), encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      const fromAnsible = JSON.parse(r.stdout) as Case['expected'][];
      expect(fromAnsible).toEqual(CASES.map((c) => c.expected));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const PATH = '/etc/my app/it\'s.conf';

const res = (stdout: string, exitCode = 0): ExecResult => ({ command: 'x', exitCode, stdout, stderr: '', durationMs: 1 });

/**
 * The outputs of lineinfileCommands for a file recorded as STAT_FIXTURES[name] holding
 * `content` (null: not a regular file / absent, as the fixture says).
 */
function outputs(name: StatFixtureName, content: Buffer | string | null, o: { uid?: number; parent?: StatFixtureName; stamp?: string; realpath?: string } = {}): ExecResult[] {
  const body = content === null ? (name === 'nothing' ? 'ABSENT\n' : 'NOTFILE\n') : `B:${Buffer.from(content).toString('base64')}\n`;
  return [
    res(statsOutput({ stats: [STAT_FIXTURES[name]], dirs: [dirAnswer(o.parent ?? 'plain')], uid: o.uid ?? 1000, ...(o.stamp !== undefined ? { stamp: o.stamp } : {}) })),
    res(body),
    o.realpath !== undefined ? res(`${o.realpath}\n`) : res('', 1),
  ];
}

function decide(args: Record<string, unknown>, out: ExecResult[]): Decision {
  const { params, errors } = checkParams(lineinfile, { path: PATH, ...args }, { loadTime: false });
  if (errors.length > 0) throw errors[0];
  const p = params as Parameters<typeof lineinfile.decide>[0];
  expect(lineinfileCommands(p)).toHaveLength(out.length);
  return lineinfile.decide(p, parseLineinfileObserved(p, out), { checkMode: false, vars: {} });
}

function show(actions: Action[]): string[] {
  return actions.map((a) =>
    a.kind === 'upload'
      ? `upload ${a.path}${a.mode !== undefined ? ` mode=${modeText(a.mode)}` : ''}${a.owner !== undefined ? ` owner=${a.owner}` : ''}${a.group !== undefined ? ` group=${a.group}` : ''} ${JSON.stringify(a.content.toString())}`
      : a.cmd.text,
  );
}

describe('lineinfile: decide', () => {
  it('line present: no actions, not changed (state=present)', () => {
    const d = decide({ line: 'hello' }, outputs('a file', 'hello\n'));
    expect(d).toMatchObject({ changed: false, actions: [], msg: `${PATH} is up to date` });
  });

  it('nothing to remove: no actions, not changed (state=absent), also for a missing file', () => {
    expect(decide({ line: 'nope', state: 'absent' }, outputs('a file', 'hello\n'))).toMatchObject({ changed: false, actions: [], result: { found: 0 } });
    expect(decide({ line: 'nope', state: 'absent' }, outputs('nothing', null))).toMatchObject({ changed: false, actions: [], msg: 'file not present' });
  });

  it('a line added: one upload of the whole file, keeping its mode; diff of the text', () => {
    const d = decide({ line: 'world' }, outputs('a file', 'hello\n'));
    expect(d.changed).toBe(true);
    expect(d.msg).toBe('line added');
    expect(show(d.actions)).toEqual([`upload ${PATH} mode=0644 "hello\\nworld\\n"`]);
    expect(d.diff).toEqual([{ path: PATH, before: 'hello\n', after: 'hello\nworld\n' }]);
  });

  it('as root, the owner and group of the replaced file are given to the upload', () => {
    const d = decide({ line: 'world' }, outputs('empty', '', { uid: 0 }));
    expect(show(d.actions)).toEqual([`upload ${PATH} mode=0600 owner=nobody group=nogroup "world\\n"`]);
  });

  it('a mode-only change is a chmod, with Ansible\'s message; with a content change, one upload', () => {
    const m = decide({ line: 'hello', mode: '0600' }, outputs('a file', 'hello\n'));
    expect(m).toMatchObject({ changed: true, msg: 'ownership, perms or SE linux context changed' });
    expect(show(m.actions)).toEqual([`chmod 0600 -- '${PATH.replace(/'/g, "'\\''")}'`]);
    const both = decide({ line: 'x', mode: '0600', owner: 'nobody' }, outputs('a file', 'hello\n'));
    expect(both.msg).toBe('line added and ownership, perms or SE linux context changed');
    expect(show(both.actions)).toEqual([`upload ${PATH} mode=0600 owner=nobody "hello\\nx\\n"`]);
  });

  it('backup: cp -p to PATH.<host time>~ first', () => {
    const d = decide({ regexp: '^hel', line: 'bye', backup: true }, outputs('a file', 'hello\n', { stamp: '2024-01-02@03:04:05' }));
    expect(d.msg).toBe('line replaced');
    expect(d.actions[0]).toMatchObject({ kind: 'run', describe: `cp -p ${PATH} ${PATH}.2024-01-02@03:04:05~` });
    expect(d.result).toMatchObject({ backup: `${PATH}.2024-01-02@03:04:05~` });
    expect(show(d.actions.slice(1))).toEqual([`upload ${PATH} mode=0644 "bye\\n"`]);
  });

  it('validate: upload to a temporary file, check it, move it over', () => {
    const d = decide({ line: 'x', validate: 'sshd -t -f %s' }, outputs('a file', 'hello\n'));
    const tmp = `${PATH}.underlay-validate-`;
    expect(d.actions.map((a) => a.kind)).toEqual(['upload', 'run', 'run']);
    expect(d.actions[0]).toMatchObject({ kind: 'upload', mode: 0o644 });
    expect((d.actions[0] as { path: string }).path.startsWith(tmp)).toBe(true);
    expect(d.actions[1]!.describe).toMatch(/^validate .*: sshd -t -f \/etc\/my app\/it's\.conf\.underlay-validate-[0-9a-f]{12}$/);
  });

  it('create: a missing file (and its directory) is written; without create it is an error', () => {
    expect(decide({ line: 'x' }, outputs('nothing', null)).failed).toBe(`Destination ${PATH} does not exist !`);
    const d = decide({ line: 'x', create: true, mode: '0640' }, outputs('nothing', null, { parent: 'nothing' }));
    expect(d.changed).toBe(true);
    expect(show(d.actions)).toEqual([`mkdir -p -- '/etc/my app'`, `upload ${PATH} mode=0640 "x\\n"`]);
    const inDir = decide({ line: 'x', create: true }, outputs('nothing', null));
    expect(show(inDir.actions)).toEqual([`upload ${PATH} "x\\n"`]);
  });

  it('edits the file a symlink points to', () => {
    const d = decide({ line: 'x' }, outputs('link', 'hello\n', { realpath: '/etc/my app/a file' }));
    expect(show(d.actions)).toEqual([`upload /etc/my app/a file mode=0644 "hello\\nx\\n"`]);
    expect(decide({ line: 'x' }, outputs('dangling', null)).failed).toBe(`${PATH} is a symlink to a missing file (missing\ntarget)`);
  });

  it('refuses a directory, bad patterns, and missing parameters as Ansible does', () => {
    expect(decide({ line: 'x' }, outputs('plain', null)).failed).toBe(`Path ${PATH} is a directory !`);
    expect(decide({ line: 'x' }, outputs('fifo', null)).failed).toBe(`${PATH} is not a regular file`);
    expect(decide({ regexp: '(', line: 'x' }, outputs('a file', 'a\n')).failed).toMatch(/^lineinfile: bad regular expression/);
    expect(decide({ line: 'x', backrefs: true }, outputs('a file', 'a\n')).failed).toBe('regexp is required with backrefs=true');
    expect(decide({ regexp: 'x' }, outputs('a file', 'a\n')).failed).toBe('line is required with state=present');
    expect(decide({ state: 'absent' }, outputs('a file', 'a\n')).failed).toBe('one of line, search_string, or regexp is required with state=absent');
    expect(() => decide({ regexp: 'a', search_string: 'a', line: 'x' }, outputs('a file', 'a\n'))).toThrow(/mutually exclusive/);
    expect(() => decide({ insertafter: 'a', insertbefore: 'a', line: 'x' }, outputs('a file', 'a\n'))).toThrow(/mutually exclusive/);
  });

  it('works on the bytes: a non-UTF-8 file keeps its bytes, a UTF-8 line is written as UTF-8', () => {
    const before = Buffer.from([0xff, 0xfe, 0x0a, 0x63, 0x61, 0x66, 0xc3, 0xa9, 0x3d, 0x31, 0x0a]); // "\xff\xfe\ncafé=1\n"
    const d = decide({ regexp: '^café=', line: 'café=2' }, outputs('a file', before));
    expect(d.msg).toBe('line replaced');
    const up = d.actions[0] as Extract<Action, { kind: 'upload' }>;
    expect(Buffer.from(up.content)).toEqual(Buffer.concat([Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from('café=2\n', 'utf8')]));
    // the diff cannot show bytes that are not text
    expect(d.diff?.[0]?.after).toMatch(/^\(binary or larger than 256 KiB/);
  });
});

/** Runs Ansible's present()/absent() on each case in check mode with diff; prints the outcomes. */
const ANSIBLE_HARNESS = `
# Runs Ansible's lineinfile present()/absent() on cases read as JSON from stdin, in check
# mode with diff, and prints {changed, msg, content, found} for each.
import json, os, sys, tempfile
from ansible.modules import lineinfile as li

class Exit(Exception):
    def __init__(self, kw): self.kw = kw

class FakeModule:
    check_mode = True
    _diff = True
    params = {}
    def exit_json(self, **kw): raise Exit(kw)
    def fail_json(self, **kw): raise Exit(dict(kw, failed=True))
    def warn(self, msg): pass
    def load_file_common_arguments(self, params): return {}
    def set_fs_attributes_if_different(self, *a, **k): return False

out = []
for case in json.load(sys.stdin):
    d = tempfile.mkdtemp()
    path = os.path.join(d, 'f')
    if case['content'] is not None:
        with open(path, 'wb') as f: f.write(case['content'].encode('utf-8'))
    p = case['params']
    li.module = FakeModule()
    try:
        if p.get('state', 'present') == 'present':
            ins_aft, ins_bef = p.get('insertafter'), p.get('insertbefore')
            if ins_aft is None and ins_bef is None: ins_aft = 'EOF'
            li.present(li.module, path, p.get('regexp'), p.get('search_string'), p['line'], ins_aft, ins_bef,
                       True, False, p.get('backrefs', False), p.get('firstmatch', False))
        else:
            li.absent(li.module, path, p.get('regexp'), p.get('search_string'), p.get('line'), False)
    except Exit as e:
        kw = e.kw
        diff = kw.get('diff')
        if isinstance(diff, list): diff = diff[0]
        content = diff['after'] if diff and kw.get('changed') else case['content']
        r = {'changed': kw.get('changed', False), 'msg': kw.get('msg', ''), 'content': content if content is not None else ''}
        if 'found' in kw: r['found'] = kw['found']
        out.append(r)
print(json.dumps(out))
`;
