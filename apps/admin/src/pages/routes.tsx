import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Button } from "../components/button";
import { Card, PageHeader } from "../components/card";
import { Field, TextArea } from "../components/field";
import { EmptyState, QueryView } from "../components/states";
import { useToast } from "../components/toast";
import { errorText } from "../lib/api";
import { useApi } from "../lib/auth";
import { keys } from "../lib/query-keys";
import { NEW_ROUTE_TEXT, parseRouteText, type RouteView, routeEditorText } from "../lib/route-form";

function hopsText(route: RouteView): string {
  return route.chains
    .map((chain) =>
      chain.hops
        .map(
          (hop) =>
            `${hop.type}://${hop.host.includes(":") ? `[${hop.host}]` : hop.host}:${hop.port}`,
        )
        .join(" → "),
    )
    .join(" | ");
}

/** Upstream routes: named chains of parent proxies that allow rules name (docs/relay.md). */
export function RoutesPage() {
  const api = useApi();
  const notify = useToast();
  const queryClient = useQueryClient();
  const routes = useQuery({ queryKey: keys.routes.list(), queryFn: () => api.routes.list.query() });
  const [text, setText] = useState(NEW_ROUTE_TEXT);
  const [problem, setProblem] = useState<string | null>(null);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: keys.routes.list() });
    void queryClient.invalidateQueries({ queryKey: keys.snapshots.list() });
  };
  const save = useMutation({
    mutationFn: () => {
      const parsed = parseRouteText(text);
      if (!parsed.ok) throw new Error(parsed.error);
      return api.routes.put.mutate({ route: parsed.route });
    },
    onSuccess: (result) => {
      setProblem(null);
      notify(`Route ${result.route.name} saved (version ${result.version})`);
      refresh();
    },
    onError: (error) => setProblem(errorText(error)),
  });
  const remove = useMutation({
    mutationFn: (name: string) => api.routes.delete.mutate({ name }),
    onSuccess: (result, name) => {
      notify(`Route ${name} deleted (version ${result.version})`);
      refresh();
    },
    onError: (error) => notify(errorText(error), "error"),
  });
  return (
    <div className="page">
      <PageHeader
        title="Upstream routes"
        description="Chains of parent proxies (SOCKS5, SOCKS4a, HTTP CONNECT) that an allow rule's CONNECTs go through; name one in a rule's Route field."
      />
      <Card title="Routes" flush>
        <QueryView
          query={routes}
          isEmpty={(list) => list.length === 0}
          empty={<EmptyState title="No routes">Every rule connects directly.</EmptyState>}
        >
          {(list) => (
            <div className="table-wrap">
              <table className="table" aria-label="Upstream routes">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Resolve</th>
                    <th>Selector</th>
                    <th>Chains</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {list.map((route) => (
                    <tr key={route.name}>
                      <td>
                        <code>{route.name}</code>
                      </td>
                      <td>{route.resolve}</td>
                      <td>
                        {route.selector}, {route.maxFails} fail(s) → skip {route.failTimeoutSecs} s
                      </td>
                      <td className="mono">{hopsText(route)}</td>
                      <td className="actions">
                        <Button size="sm" onClick={() => setText(routeEditorText(route))}>
                          Edit
                        </Button>
                        <Button
                          size="sm"
                          variant="danger"
                          write
                          busy={remove.isPending && remove.variables === route.name}
                          onClick={() => remove.mutate(route.name)}
                        >
                          Delete
                        </Button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </QueryView>
      </Card>
      <Card
        title="Edit a route"
        description="A route is saved whole, as JSON in the snapshot's shape; saving a name that exists replaces that route. Hop passwords are never shown: type them again."
      >
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate();
          }}
        >
          <Field label="Route (JSON)" error={problem}>
            {(c) => (
              <TextArea
                {...c}
                name="route"
                rows={16}
                spellCheck={false}
                className="mono"
                value={text}
                onChange={(e) => setText(e.target.value)}
              />
            )}
          </Field>
          <div className="form-actions">
            <Button type="button" onClick={() => setText(NEW_ROUTE_TEXT)}>
              New route
            </Button>
            <Button type="submit" variant="primary" write busy={save.isPending}>
              Save route
            </Button>
          </div>
        </form>
      </Card>
    </div>
  );
}
