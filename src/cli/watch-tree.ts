/**
 * Watching a directory tree for changes, with one non-recursive watcher per directory.
 *
 * Not `fs.watch(dir, { recursive: true })`: on Linux, Node 20 builds that in JavaScript, and
 * once a file was replaced by a rename (`sed -i`, an editor's atomic save, `git checkout`) it
 * no longer reports writes made to the new file in place, so `praas dev` missed every later
 * save of it. A directory's own watcher (inotify) reports each change of its entries by name,
 * whatever their inode.
 */
import { watch, type FSWatcher } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join, relative } from "node:path";

export interface TreeWatcher {
  close(): void;
}

/**
 * Calls `changed` with the path (relative to `root`) of every entry created, written, renamed
 * or removed under `root`, except under directories `ignored` skips (it gets relative paths too;
 * `root` itself is ""). Directories created later are watched as they appear.
 */
export function watchTree(
  root: string,
  ignored: (path: string) => boolean,
  changed: (path: string) => void,
): TreeWatcher {
  const watchers = new Map<string, FSWatcher>();
  let closed = false;

  const add = async (dir: string): Promise<void> => {
    if (watchers.has(dir) || ignored(relative(root, dir))) return;
    // Not through symbolic links: a link to an ancestor would be watched without end.
    const isDirectory = (await lstat(dir).catch(() => undefined))?.isDirectory() ?? false;
    if (closed || !isDirectory || watchers.has(dir)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, (_event, name) => {
        const path = name === null ? relative(root, dir) : relative(root, join(dir, name));
        if (ignored(path)) return;
        changed(path);
        // A new (or renamed) directory needs its own watcher.
        if (name !== null) void add(join(dir, name));
      });
    } catch {
      return; // already gone
    }
    // The directory went away (its parent reports that): its watcher ends with it.
    watcher.on("error", () => forget(dir));
    watchers.set(dir, watcher);
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) await add(join(dir, entry.name));
  };

  const forget = (dir: string): void => {
    watchers.get(dir)?.close();
    watchers.delete(dir);
  };

  void add(root);
  return {
    close: () => {
      closed = true;
      for (const dir of [...watchers.keys()]) forget(dir);
    },
  };
}
