import { useEffect, useState } from "react";
import { Navigate, NavLink, Route, Routes, useLocation } from "react-router";
import { WriteAccessProvider } from "./components/access";
import { ApiHealthBanner } from "./components/api-health-banner";
import { Button } from "./components/button";
import { Badge } from "./components/card";
import { ErrorState, Loading } from "./components/states";
import { useApiHealth } from "./lib/api-health";
import { useAuth, useSession } from "./lib/auth";
import { HistoryPage } from "./pages/history";
import { LiveSessionsPage } from "./pages/live-sessions";
import { NodesPage } from "./pages/nodes";
import { OverviewPage } from "./pages/overview";
import { RoutesPage } from "./pages/routes";
import { RulesPage } from "./pages/rules";
import { SettingsPage } from "./pages/settings";
import { SignInPage } from "./pages/sign-in";
import { SnapshotsPage } from "./pages/snapshots";
import { UsersPage } from "./pages/users";

const NAV = [
  { to: "/", label: "Overview", end: true },
  { to: "/live", label: "Live sessions" },
  { to: "/history", label: "History" },
  { to: "/users", label: "Users & groups" },
  { to: "/rules", label: "ACL rules" },
  { to: "/routes", label: "Upstream routes" },
  { to: "/nodes", label: "Nodes" },
  { to: "/snapshots", label: "Snapshots & audit" },
  { to: "/settings", label: "Settings" },
] as const;

function Logo() {
  return (
    <svg width="24" height="24" viewBox="0 0 32 32" aria-hidden="true">
      <rect width="32" height="32" rx="7" fill="var(--accent)" />
      <path d="M9 10h14M9 16h10M9 22h14" stroke="#fff" strokeWidth="3" strokeLinecap="round" />
    </svg>
  );
}

function Shell() {
  const { identity, canWrite, signOut } = useSession();
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  const health = useApiHealth();
  // A navigation closes the phone menu.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on each navigation
  useEffect(() => setMenuOpen(false), [location.pathname]);
  return (
    <WriteAccessProvider canWrite={canWrite}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <div className="shell">
        <div className="topbar">
          <span className="brand" style={{ display: "flex" }}>
            <Logo /> EdgeSocks
          </span>
          <Button
            size="sm"
            aria-expanded={menuOpen}
            aria-controls="sidebar"
            onClick={() => setMenuOpen((open) => !open)}
          >
            {menuOpen ? "Close menu" : "Menu"}
          </Button>
        </div>
        <aside id="sidebar" className={menuOpen ? "sidebar open" : "sidebar"}>
          <NavLink to="/" className="brand">
            <Logo /> EdgeSocks
          </NavLink>
          <nav className="nav" aria-label="Main">
            {NAV.map((item) => (
              <NavLink key={item.to} to={item.to} end={"end" in item ? item.end : false}>
                {item.label}
              </NavLink>
            ))}
          </nav>
          <div className="sidebar-footer">
            <div className="identity">
              <strong>{identity.name}</strong>
              <Badge tone={canWrite ? "blue" : "yellow"}>{identity.role}</Badge>
            </div>
            <Button size="sm" onClick={signOut}>
              Sign out
            </Button>
          </div>
        </aside>
        <main id="main" className="main" tabIndex={-1}>
          {canWrite ? null : (
            <div className="readonly-banner" role="note" style={{ marginBottom: 16 }}>
              Read-only: you are signed in with a viewer token, so every change is disabled.
            </div>
          )}
          <ApiHealthBanner health={health} />
          <div
            className={health.failing ? "stale" : undefined}
            data-stale={health.failing || undefined}
          >
            <Routes>
              <Route path="/" element={<OverviewPage />} />
              <Route path="/live" element={<LiveSessionsPage />} />
              <Route path="/history" element={<HistoryPage />} />
              <Route path="/users" element={<UsersPage />} />
              <Route path="/rules" element={<RulesPage />} />
              <Route path="/routes" element={<RoutesPage />} />
              <Route path="/nodes" element={<NodesPage />} />
              <Route path="/snapshots" element={<SnapshotsPage />} />
              <Route path="/settings" element={<SettingsPage />} />
              <Route path="*" element={<Navigate to="/" replace />} />
            </Routes>
          </div>
        </main>
      </div>
    </WriteAccessProvider>
  );
}

export function App() {
  const { state, retry } = useAuth();
  if (state.status === "checking") return <Loading label="Checking your token…" />;
  if (state.status === "unreachable") {
    return (
      <main className="signin">
        <div className="card">
          <ErrorState error={new Error(state.message)} retry={retry} />
        </div>
      </main>
    );
  }
  if (state.status === "signed-out") return <SignInPage message={state.message} />;
  return <Shell />;
}
