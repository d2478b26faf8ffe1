// Which installed megaflows carry a tag (Translation.tags: a flow entry they matched, a MAC-table entry
// NORMAL read), so that a change to that one thing removes them and nothing else (FlowCache.revalidate
// and invalidate). Each installed megaflow is listed once per tag it carries and leaves every list when
// it is removed, so the index is bounded by the megaflows, however often a flapping MAC re-installs one.
import type { Megaflow } from './megaflow.ts';

export class TagIndex {
  private readonly byTag = new Map<number, Megaflow[]>();

  add(mf: Megaflow): void {
    for (const tag of mf.tags) {
      const list = this.byTag.get(tag);
      if (list === undefined) this.byTag.set(tag, [mf]);
      else list.push(mf);
    }
  }

  /** mf out of its tags' lists (those `take` emptied already are gone). */
  remove(mf: Megaflow): void {
    for (const tag of mf.tags) {
      const list = this.byTag.get(tag);
      if (list === undefined) continue;
      const at = list.indexOf(mf);
      if (at < 0) continue;
      list[at] = list[list.length - 1]!;
      list.pop();
      if (list.length === 0) this.byTag.delete(tag);
    }
  }

  /**
   * The megaflows carrying `tag`, taken out of the index under it (the caller removes them). A megaflow
   * that carries one tag twice (source and destination the same MAC) is listed twice.
   */
  take(tag: number): Megaflow[] | undefined {
    const list = this.byTag.get(tag);
    if (list !== undefined) this.byTag.delete(tag);
    return list;
  }

  clear(): void {
    this.byTag.clear();
  }

  /** Entries (each installed megaflow once per tag). */
  get size(): number {
    let n = 0;
    for (const list of this.byTag.values()) n += list.length;
    return n;
  }
}
