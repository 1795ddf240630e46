/** A button that runs an API call, shows it is busy, and reports its error code and message. */
import { useState } from "preact/hooks";
import { ApiError } from "../api.js";

export function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

export function ErrorLine({ error }: { error: unknown }) {
  if (error === undefined) return null;
  return (
    <p class="error" role="alert">
      {describeError(error)}
    </p>
  );
}

interface ActionProps {
  label: string;
  run: () => Promise<unknown>;
  disabled?: boolean;
  /** After a successful run (e.g. refresh the list). */
  done?: () => void;
}

export function ActionButton({ label, run, disabled = false, done }: ActionProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const click = () => {
    setBusy(true);
    setError(undefined);
    run()
      .then(() => done?.(), setError)
      .finally(() => setBusy(false));
  };
  return (
    <span class="action">
      <button type="button" onClick={click} disabled={disabled || busy}>
        {busy ? `${label}…` : label}
      </button>
      <ErrorLine error={error} />
    </span>
  );
}
