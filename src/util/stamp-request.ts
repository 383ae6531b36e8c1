import type { StampOptions } from '../ports.js';

/**
 * The roots of a tree stamp, each once. Every host reads them the same way: absolute paths (so
 * none can pass for an option of the tool that walks them), no NUL or newline, and a root's own
 * name never among the names skipped below it.
 */
export function checkStampRequest(roots: readonly string[], options: StampOptions): string[] {
  if (!Number.isInteger(options.maxDepth) || options.maxDepth < 0 || options.maxDepth > 16) throw new TypeError('stampTrees: maxDepth must be 0 to 16');
  const unique = [...new Set(roots)];
  for (const root of unique) {
    if (!root.startsWith('/') || /[\0\n]/.test(root)) throw new TypeError(`stampTrees: ${JSON.stringify(root)} is not an absolute path`);
    const name = root.replace(/\/+$/, '').split('/').pop() ?? '';
    if (options.skip.includes(name)) throw new TypeError(`stampTrees: the root ${root} is named as a name to skip`);
  }
  for (const name of options.skip) {
    if (name === '' || /[\0\n/]/.test(name) || name.startsWith('-')) throw new TypeError(`stampTrees: ${JSON.stringify(name)} is not a file name`);
  }
  return unique;
}
