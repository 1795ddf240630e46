/** One process: its details, actions (invoke, swap, resume, delete), state keys and live logs. */
import { useEffect, useRef, useState } from "preact/hooks";
import type { AppInfo, ProcessInfo } from "../../protocol/api.js";
import type { LogRecord } from "../../protocol/logs.js";
import { api, followLogs } from "../api.js";
import { routeHref, usePoll } from "../hooks.js";
import { ActionButton, ErrorLine, describeError } from "./action.js";
import { formatBytes } from "./processes.js";

/** Lines kept on the page; older ones scroll away. */
const MAX_LOG_LINES = 300;

interface ViewProps {
  app: AppInfo;
  name: string;
  /** Undefined until the list has it (or after it was deleted). */
  info: ProcessInfo | undefined;
  changed: () => void;
}

export function ProcessView({ app, name, info, changed }: ViewProps) {
  if (!info) return <p>Process {name} is not listed (deleted?).</p>;
  const active = info.status === "active";
  const leave = () => {
    location.hash = routeHref({ app: app.name });
    changed();
  };
  return (
    <section class="card process" aria-label={`process ${name}`}>
      <h3>
        {app.name}/{name} <span class={`status status-${info.status}`}>{info.status}</span>
      </h3>
      <p class="muted">
        {info.resources.vcpus} vcpus, {info.resources.memory} MiB, version {info.version ?? "—"},
        durability {info.durability}
        {info.lastFailure ? `, last failure: ${info.lastFailure.reason}` : ""}
      </p>
      <div class="actions">
        <ActionButton
          label="Swap"
          run={() => api.swap(app.name, name)}
          disabled={!active}
          done={changed}
        />
        <ActionButton
          label="Resume"
          run={() => api.resume(app.name, name)}
          disabled={info.status !== "swapped" && info.status !== "failed"}
          done={changed}
        />
        <ActionButton label="Delete" run={() => api.remove(app.name, name)} done={leave} />
      </div>
      <InvokeForm app={app} name={name} invoked={changed} />
      <div class="columns">
        <StateKeys app={app.name} name={name} active={active} />
        <Logs app={app.name} name={name} />
      </div>
    </section>
  );
}

type Outcome = { ok: true; output: string } | { ok: false; error: string };

function InvokeForm({ app, name, invoked }: { app: AppInfo; name: string; invoked: () => void }) {
  const [fn, setFn] = useState(app.functions[0] ?? "");
  const [payload, setPayload] = useState("");
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const submit = (event: Event) => {
    event.preventDefault();
    setBusy(true);
    api
      .invoke(app.name, fn, name, payload)
      .then(
        (output) => setOutcome({ ok: true, output }),
        (error: unknown) => setOutcome({ ok: false, error: describeError(error) }),
      )
      .finally(() => {
        setBusy(false);
        invoked();
      });
  };
  return (
    <form class="invoke" onSubmit={submit} aria-label="invoke">
      <label>
        Function{" "}
        <select value={fn} onChange={(e) => setFn(e.currentTarget.value)}>
          {app.functions.map((f) => (
            <option key={f}>{f}</option>
          ))}
        </select>
      </label>{" "}
      <label>
        Payload <input value={payload} onInput={(e) => setPayload(e.currentTarget.value)} />
      </label>{" "}
      <button type="submit" disabled={busy || fn === ""}>
        {busy ? "Invoking…" : "Invoke"}
      </button>
      {outcome && (
        <pre class={outcome.ok ? "result" : "result error"} aria-label="invocation result">
          {outcome.ok ? outcome.output : outcome.error}
        </pre>
      )}
    </form>
  );
}

function StateKeys({ app, name, active }: { app: string; name: string; active: boolean }) {
  const state = usePoll(
    () => (active ? api.state(app, name) : Promise.resolve(undefined)),
    `${app}/${name}/${active}`,
  );
  const listing = state.data;
  return (
    <div class="state">
      <h4>State</h4>
      {!active && <p class="muted">Not in memory while the process is not active.</p>}
      <ErrorLine error={state.error} />
      {listing && (
        <>
          <p class="muted">
            {listing.totalKeys} keys, {formatBytes(listing.totalBytes)}
          </p>
          <table aria-label="state keys">
            <tbody>
              {listing.keys.map((entry) => (
                <tr key={entry.key}>
                  <td>{entry.key}</td>
                  <td>{formatBytes(entry.size)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

function formatLine(record: LogRecord): string {
  const time = new Date(record.time).toISOString().slice(11, 23);
  return `${time} ${record.function ?? "-"} ${record.level} ${record.message}`;
}

/** The process's lines of the last 5 minutes, then each new one as it is written. */
function Logs({ app, name }: { app: string; name: string }) {
  const [lines, setLines] = useState<LogRecord[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    setLines([]);
    const abort = new AbortController();
    const add = (record: LogRecord) => setLines((old) => [...old, record].slice(-MAX_LOG_LINES));
    followLogs(app, name, add, abort.signal).catch((reason: unknown) => {
      if (!abort.signal.aborted) setError(reason);
    });
    return () => abort.abort();
  }, [app, name]);
  const pane = useRef<HTMLPreElement>(null);
  useEffect(() => {
    // Follow the tail, as a terminal does.
    if (pane.current) pane.current.scrollTop = pane.current.scrollHeight;
  }, [lines]);
  return (
    <div class="logs">
      <h4>Logs (live)</h4>
      <ErrorLine error={error} />
      <pre aria-label="logs" ref={pane}>
        {lines.map(formatLine).join("\n")}
      </pre>
    </div>
  );
}
