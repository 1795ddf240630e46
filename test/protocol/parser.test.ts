// The frame parser must decode any chunking of a valid stream identically, and reject garbage
// through onError without ever throwing.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FrameParser,
  FrameType,
  HEADER_BYTES,
  encodeFields,
  encodeFrame,
  type Frame,
  type FrameHeader,
  type PraaSError,
} from "../../src/protocol/index.js";

interface Spec {
  type: FrameType;
  id: number;
  meta: string[];
  payload: Uint8Array;
}

const frameTypes = Object.values(FrameType);
const specArb: fc.Arbitrary<Spec> = fc.record({
  type: fc.constantFrom(...frameTypes),
  id: fc.nat({ max: 0xffffffff }),
  meta: fc.array(fc.string({ maxLength: 40 }), { maxLength: 4 }),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.uint8Array({ minLength: 16_000, maxLength: 40_000 }),
  ),
});

function encodeAll(specs: Spec[]): Buffer {
  return Buffer.concat(
    specs.flatMap((s) => encodeFrame(s.type, s.id, encodeFields(s.meta), s.payload)),
  );
}

function parse(chunks: Buffer[], maxPayloadBytes = 1 << 20) {
  const frames: Frame[] = [];
  const oversized: FrameHeader[] = [];
  const errors: PraaSError[] = [];
  const parser = new FrameParser(
    {
      onFrame: (f) => frames.push(f),
      onOversized: (h) => oversized.push(h),
      onError: (e) => errors.push(e),
    },
    { maxPayloadBytes },
  );
  for (const chunk of chunks) parser.push(chunk);
  return { frames, oversized, errors, parser };
}

/** Splits `bytes` at the given cut points (any order, duplicates allowed). */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(last, point));
    last = point;
  }
  return chunks;
}

interface Mutation {
  kind: "set" | "insert" | "delete";
  /** Which frame's header to hit (mod the frame count), or -1 for anywhere in the stream. */
  frame: number;
  offset: number;
  value: number;
}

// Half the mutations hit a frame header (magic, type, id, lengths): random bytes almost never
// get past the magic byte, so fuzzing from valid frames is what reaches the deeper checks.
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom("set" as const, "insert" as const, "delete" as const),
  frame: fc.oneof(fc.constant(-1), fc.nat({ max: 10 })),
  offset: fc.nat(),
  value: fc.integer({ min: 0, max: 255 }),
});

/** Applies `mutations` to the concatenated frames; `firstChange` is the lowest offset touched. */
function mutate(frames: Buffer[], mutations: Mutation[]): { bytes: Buffer; firstChange: number } {
  const starts = frames.map((_, i) => frames.slice(0, i).reduce((n, f) => n + f.length, 0));
  const bytes = [...Buffer.concat(frames)];
  let firstChange = bytes.length;
  for (const m of mutations) {
    const at =
      m.frame < 0
        ? m.offset % (bytes.length + 1)
        : Math.min(starts[m.frame % starts.length]! + (m.offset % HEADER_BYTES), bytes.length);
    firstChange = Math.min(firstChange, at);
    if (m.kind === "insert") bytes.splice(at, 0, m.value);
    else if (at < bytes.length && m.kind === "delete") bytes.splice(at, 1);
    else if (at < bytes.length) bytes[at] = m.value === bytes[at] ? (m.value + 1) % 256 : m.value;
  }
  return { bytes: Buffer.from(bytes), firstChange };
}

/** The frames that end at or before `offset`: the mutations cannot have touched them. */
function intactPrefix(frames: Buffer[], offset: number): Buffer[] {
  const intact: Buffer[] = [];
  let end = 0;
  for (const frame of frames) {
    end += frame.length;
    if (end > offset) break;
    intact.push(frame);
  }
  return intact;
}

const summary = (frames: Frame[]) =>
  frames.map((f) => ({
    type: f.type,
    id: f.id,
    meta: Buffer.from(f.meta).toString("hex"),
    payload: Buffer.from(f.payload).toString("hex"),
  }));

// Property tests of a few hundred runs each: seconds when idle, much more on a loaded machine.
describe("FrameParser", { timeout: 120_000 }, () => {
  it("decodes any chunking of a valid stream identically", () => {
    fc.assert(
      fc.property(
        fc.array(specArb, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (specs, cuts) => {
          const bytes = encodeAll(specs);
          const whole = parse([bytes]);
          const chunked = parse(split(bytes, cuts));
          expect(whole.errors).toEqual([]);
          expect(chunked.errors).toEqual([]);
          expect(summary(chunked.frames)).toEqual(summary(whole.frames));
          expect(whole.frames.map((f) => f.id)).toEqual(specs.map((s) => s.id >>> 0));
          expect(
            // By position: two specs may share an id and a type.
            whole.frames.map((f, i) => Buffer.from(f.payload).equals(payloadOf(specs[i]))),
          ).not.toContain(false);
          expect(chunked.parser.idle).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("decodes a stream fed one byte at a time", () => {
    const specs: Spec[] = [
      { type: FrameType.Invoke, id: 1, meta: ["echo"], payload: Buffer.from("hello") },
      { type: FrameType.Result, id: 1, meta: [], payload: new Uint8Array(0) },
    ];
    const bytes = encodeAll(specs);
    const { frames, errors } = parse([...bytes].map((b) => Buffer.from([b])));
    expect(errors).toEqual([]);
    expect(frames.map((f) => [f.type, f.id, Buffer.from(f.payload).toString()])).toEqual([
      [FrameType.Invoke, 1, "hello"],
      [FrameType.Result, 1, ""],
    ]);
  });

  it("never throws on random bytes, and reports at most one error", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), (chunks) => {
        const result = parse(chunks.map((c) => Buffer.from(c)));
        expect(result.errors.length).toBeLessThanOrEqual(1);
        for (const error of result.errors) expect(error.code).toBe("PROTOCOL_ERROR");
        if (result.errors.length === 1) expect(result.parser.failed).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on mutated valid streams, and decodes every frame before the first change", () => {
    fc.assert(
      fc.property(
        fc.array(specArb, { minLength: 1, maxLength: 5 }),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (specs, mutations, cuts) => {
          const frames = specs.map((spec) => encodeAll([spec]));
          const { bytes, firstChange } = mutate(frames, mutations);
          const result = parse(split(bytes, cuts));
          expect(result.errors.length).toBeLessThanOrEqual(1);
          for (const error of result.errors) expect(error.code).toBe("PROTOCOL_ERROR");
          expect(result.parser.failed).toBe(result.errors.length === 1);
          const intact = intactPrefix(frames, firstChange);
          const decoded = summary(result.frames).slice(0, intact.length);
          expect(decoded).toEqual(summary(parse([Buffer.concat(intact)]).frames));
        },
      ),
      { numRuns: 400 },
    );
  });

  it("rejects a bad magic byte at once", () => {
    const bytes = Buffer.concat(encodeFrame(FrameType.Invoke, 1));
    bytes[0] = 0x00;
    const { errors, frames } = parse([bytes]);
    expect(frames).toEqual([]);
    expect(errors[0]?.code).toBe("PROTOCOL_ERROR");
  });

  it("reports an oversized payload, skips it, and decodes the next frame", () => {
    const big = encodeFrame(FrameType.Invoke, 5, encodeFields(["echo"]), Buffer.alloc(5000, 1));
    const small = encodeFrame(FrameType.Invoke, 6, encodeFields(["echo"]), Buffer.from("ok"));
    const bytes = Buffer.concat([...big, ...small]);
    const { frames, oversized, errors } = parse(
      split(bytes, [3, HEADER_BYTES + 1, 2000, 5010]),
      1000,
    );
    expect(errors).toEqual([]);
    expect(oversized.map((h) => [h.id, h.payloadLength])).toEqual([[5, 5000]]);
    expect(frames.map((f) => f.id)).toEqual([6]);
  });
});

function payloadOf(spec: Spec | undefined): Buffer {
  return Buffer.from(spec?.payload ?? new Uint8Array());
}
