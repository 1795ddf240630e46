import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SharedDeadlines } from "../../src/transport/index.js";

describe("SharedDeadlines", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("fires each item once its own deadline passed, in order, with one timer", () => {
    const due: string[] = [];
    const deadlines = new SharedDeadlines<string>((item) => due.push(item));
    deadlines.add("a", 100);
    vi.advanceTimersByTime(40);
    deadlines.add("b", 100);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(60);
    expect(due).toEqual(["a"]);
    vi.advanceTimersByTime(39);
    expect(due).toEqual(["a"]);
    vi.advanceTimersByTime(1);
    expect(due).toEqual(["a", "b"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("never fires a removed item, and still fires the ones after it on time", () => {
    const due: string[] = [];
    const deadlines = new SharedDeadlines<string>((item) => due.push(item));
    deadlines.add("a", 100);
    vi.advanceTimersByTime(50);
    deadlines.add("b", 100);
    deadlines.delete("a");
    vi.advanceTimersByTime(99);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(due).toEqual(["b"]);
  });

  it("forgets everything on clear", () => {
    const due: string[] = [];
    const deadlines = new SharedDeadlines<string>((item) => due.push(item));
    deadlines.add("a", 10);
    deadlines.clear();
    vi.advanceTimersByTime(1000);
    expect(due).toEqual([]);
    deadlines.add("b", 10);
    vi.advanceTimersByTime(10);
    expect(due).toEqual(["b"]);
  });
});
