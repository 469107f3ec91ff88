import { describe, expect, it } from 'vitest';
import { limitHeapGrowth } from '../../src/runtime/heap-growth.js';

// The effect on memory is measured by the bench (peak RSS), not asserted here.
describe('limitHeapGrowth', () => {
  it('sets the growth limit when node was started without one', () => {
    expect(limitHeapGrowth(['--enable-source-maps'])).toBe(true);
  });

  it("leaves the user's own --heap-growing-percent alone", () => {
    expect(limitHeapGrowth(['--heap-growing-percent=80'])).toBe(false);
  });
});
