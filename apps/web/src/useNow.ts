import { useEffect, useState } from 'react';

/**
 * The time now, re-read every `everyMs` until `untilMs` has passed (a countdown on screen to a
 * deadline): the last reading is then at or past `untilMs`, and the timer stops.
 */
export function useNow(everyMs: number, untilMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  const over = now >= untilMs;
  useEffect(() => {
    if (over) return undefined;
    const timer = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs, over]);
  return now;
}
