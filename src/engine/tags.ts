/**
 * Tag selection as ansible-playbook does it: `--tags` runs tasks with a matching tag (and
 * `always` ones unless `--skip-tags always`); `--skip-tags` wins; `never` tasks run only
 * when one of their other tags is asked for; the special values `all`, `tagged` and
 * `untagged` work in both options.
 */
export function tagSelected(taskTags: readonly string[], only: readonly string[], skip: readonly string[]): boolean {
  const tags = new Set(taskTags);
  const has = (t: string) => tags.has(t);
  const matches = (list: readonly string[]) =>
    list.some((t) => (t === 'all' ? !has('never') : t === 'tagged' ? tags.size > 0 : t === 'untagged' ? tags.size === 0 : has(t)));
  if (skip.length > 0 && matches(skip)) return false;
  if (has('always') && !skip.includes('always')) return true;
  if (only.length === 0 || only.includes('all')) {
    if (has('never')) return only.some((t) => t !== 'all' && has(t));
    return only.length === 0 || matches(only);
  }
  return matches(only);
}
