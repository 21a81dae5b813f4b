import { describe, expect, it, vi } from "vitest";
import { type BufferedSocket, watchSlowConsumers } from "./slow-consumer";

class FakeSocket implements BufferedSocket {
  bufferedAmount = 0;
  terminated = false;
  terminate() {
    this.terminated = true;
  }
}

describe("watchSlowConsumers", () => {
  it("closes a socket whose buffer keeps growing, and only that one", () => {
    vi.useFakeTimers();
    try {
      const slow = new FakeSocket();
      const busy = new FakeSocket();
      const closed: number[] = [];
      const stop = watchSlowConsumers(
        () => [slow, busy],
        (_socket, bytes) => closed.push(bytes),
        {
          growingBufferedBytes: 100,
          growingChecks: 3,
          maxBufferedBytes: 1_000_000,
          checkIntervalMs: 10,
        },
      );
      for (let i = 1; i <= 3; i++) {
        slow.bufferedAmount = 100 + i * 50; // grows at every check
        busy.bufferedAmount = i % 2 === 0 ? 500 : 150; // high but draining in between
        vi.advanceTimersByTime(10);
      }
      expect(slow.terminated).toBe(true);
      expect(busy.terminated).toBe(false);
      expect(closed).toEqual([250]);
      stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it("closes at once above maxBufferedBytes", () => {
    vi.useFakeTimers();
    try {
      const socket = new FakeSocket();
      const stop = watchSlowConsumers(
        () => [socket],
        () => {},
        {
          maxBufferedBytes: 1000,
          checkIntervalMs: 10,
        },
      );
      socket.bufferedAmount = 1000;
      vi.advanceTimersByTime(10);
      expect(socket.terminated).toBe(true);
      stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
