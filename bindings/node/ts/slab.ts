/**
 * The memory decoders write their tables into: one large array handed out in slices.
 *
 * Each call of the native decoder writes the table of the items it decoded (and the bytes of
 * the messages it had to copy) into memory that JavaScript allocated: V8 frees such memory
 * itself, while memory the addon allocates comes back only through finalizers, on a later
 * turn of the event loop. Allocating an array per chunk would still cost a `malloc`, a `free`
 * and the collector's bookkeeping every time, more than decoding a chunk's table; so one
 * array ({@link SLAB_BYTES}) serves many calls, each writing after the last, and a new one
 * is allocated when the rest is too small. A batch's `Uint32Array` is a view of its part, and
 * the messages keep the array alive as long as they live (see `Message.detach`).
 * @internal
 */

/** The size of an array (256 KiB: the tables of about a dozen 64 KiB chunks). */
export const SLAB_BYTES = 256 * 1024;

/** One array: its words and the same memory as bytes (a `Buffer` the addon writes into). */
export interface Slab {
  readonly words: Uint32Array;
  readonly bytes: Buffer;
}

let current: Slab = allocate(SLAB_BYTES / 4);
/** The first free word of {@link current}. */
let free = 0;

function allocate(words: number): Slab {
  // Not zeroed: the addon writes every word a table is read from.
  const bytes = Buffer.allocUnsafeSlow(4 * words);
  return { words: new Uint32Array(bytes.buffer, bytes.byteOffset, words), bytes };
}

/**
 * A slab with at least `words` free words from {@link roomAt}: the current one, or a new one
 * (of `words` words if that is more than {@link SLAB_BYTES}).
 */
export function room(words: number): Slab {
  if (current.words.length - free < words) {
    current = allocate(Math.max(words, SLAB_BYTES / 4));
    free = 0;
  }
  return current;
}

/** The first free word of the slab {@link room} returned. */
export function roomAt(): number {
  return free;
}

/** Marks `words` more words of the current slab as used. */
export function use(words: number): void {
  free += words;
}
