/** The page: the token prompt when needed, the applications, and the selected one. */
import { useState } from "preact/hooks";
import { api, isUnauthorized } from "../api.js";
import { routeHref, usePoll, useRoute } from "../hooks.js";
import { AppView } from "./app-view.js";
import { ErrorLine } from "./action.js";
import { TokenForm } from "./token-form.js";

export function App() {
  const [attempt, setAttempt] = useState(0);
  const apps = usePoll(() => api.apps(), String(attempt));
  const route = useRoute();
  if (isUnauthorized(apps.error)) return <TokenForm onSaved={() => setAttempt((n) => n + 1)} />;
  const selected = apps.data?.find((app) => app.name === route.app);
  return (
    <div class="layout">
      <nav aria-label="applications">
        <h2>Applications</h2>
        <ErrorLine error={apps.error} />
        {apps.data?.length === 0 && <p class="muted">None deployed yet (praas deploy DIR).</p>}
        <ul>
          {apps.data?.map((app) => (
            <li key={app.name} class={app.name === route.app ? "selected" : ""}>
              <a href={routeHref({ app: app.name })}>{app.name}</a>{" "}
              <span class="muted">v{app.version}</span>
            </li>
          ))}
        </ul>
      </nav>
      <main>
        {selected ? (
          <AppView key={selected.name} app={selected} process={route.process} />
        ) : (
          <p class="muted">Pick an application.</p>
        )}
      </main>
    </div>
  );
}
