/** Small hooks: poll the API, follow the URL hash. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

/** The dashboard refreshes every this often; the API is cheap to read. */
export const POLL_MS = 1500;

export interface Polled<T> {
  data: T | undefined;
  error: unknown;
  /** Loads again now (after an action), besides the regular polling. */
  refresh: () => void;
}

/**
 * Calls `load` now and every POLL_MS while mounted (and again when `key` changes); a call
 * that is still running is not overlapped by the next.
 */
export function usePoll<T>(load: () => Promise<T>, key: string): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;
  const busy = useRef(false);
  const refresh = useCallback(() => {
    if (busy.current) return;
    busy.current = true;
    loadRef
      .current()
      .then(
        (value) => {
          setData(value);
          setError(undefined);
        },
        (reason: unknown) => setError(reason),
      )
      .finally(() => {
        busy.current = false;
      });
  }, []);
  useEffect(() => {
    setData(undefined);
    refresh();
    const timer = setInterval(refresh, POLL_MS);
    return () => clearInterval(timer);
  }, [key, refresh]);
  return { data, error, refresh };
}

/** Where the page is: `#/APP` or `#/APP/PROC` (so a reload or a shared link keeps the view). */
export interface Route {
  app?: string;
  process?: string;
}

function currentRoute(): Route {
  const [app, process] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  return { ...(app ? { app } : {}), ...(process ? { process } : {}) };
}

export function routeHref(route: Route): string {
  const parts = [route.app, route.process].filter((part) => part !== undefined);
  return `#/${parts.map((part) => encodeURIComponent(part)).join("/")}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = () => setRoute(currentRoute());
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
