// Drives the simulator with unmodified octokit.js (@octokit/app), the way a GitHub App
// pointed at GitHub Enterprise Server would: App JWT -> org installation -> installation
// token -> installation repositories (paginated through Link headers) -> a repository's
// pull requests. Prints one JSON object on stdout; any request failure exits 1 with the
// status and GitHub's message on stderr.
//
//   node app-pulls.mjs --base-url URL --app-id N --private-key PEM_PATH --org ORG --repo REPO
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { App } from "@octokit/app";
import { Octokit as Core } from "@octokit/core";
import { paginateRest } from "@octokit/plugin-paginate-rest";

const { values: args } = parseArgs({
  options: {
    "base-url": { type: "string" },
    "app-id": { type: "string" },
    "private-key": { type: "string" },
    org: { type: "string" },
    repo: { type: "string" },
    "per-page": { type: "string", default: "10" },
  },
  strict: true,
});
for (const name of ["base-url", "app-id", "private-key", "org", "repo"]) {
  if (!args[name]) {
    process.stderr.write(`missing --${name}\n`);
    process.exit(2);
  }
}
const perPage = Number(args["per-page"]);

// The documented way to point @octokit/app at GHES: an Octokit class with a baseUrl.
const Octokit = Core.plugin(paginateRest).defaults({ baseUrl: args["base-url"] });
const app = new App({
  appId: Number(args["app-id"]),
  privateKey: readFileSync(args["private-key"], "utf8"),
  Octokit,
});

async function main() {
  const { data: self } = await app.octokit.request("GET /app");

  // How an App finds its installation on one org (`app.eachInstallation` would list them
  // all, but GitHub's OpenAPI description of GET /app/installations types `account` as an
  // impossible allOf [Simple User, Enterprise], so the conformance check cannot pass it).
  const { data: installation } = await app.octokit.request("GET /orgs/{org}/installation", {
    org: args.org,
  });
  const octokit = await app.getInstallationOctokit(installation.id);
  const repositories = await octokit.paginate("GET /installation/repositories", {
    per_page: perPage,
  });
  const first = await octokit.request("GET /installation/repositories", { per_page: perPage });

  const pulls = await octokit.paginate("GET /repos/{owner}/{repo}/pulls", {
    owner: args.org,
    repo: args.repo,
    state: "all",
    per_page: perPage,
  });

  return {
    app: { id: self.id, slug: self.slug, installations_count: self.installations_count },
    installation: {
      id: installation.id,
      account: installation.account?.login ?? null,
      repository_selection: installation.repository_selection,
    },
    repositories: {
      total_count: first.data.total_count,
      full_names: repositories.map((r) => r.full_name),
      urls: repositories.slice(0, 3).map((r) => r.url),
      link_first_page: first.headers.link ?? null,
    },
    pulls: pulls.map((p) => ({
      number: p.number,
      state: p.state,
      draft: p.draft,
      title: p.title,
      head: p.head.ref,
      base: p.base.ref,
      url: p.url,
    })),
  };
}

try {
  process.stdout.write(JSON.stringify(await main()) + "\n");
} catch (error) {
  const detail = {
    status: error.status ?? null,
    url: error.request?.url ?? null,
    message: error.response?.data?.message ?? String(error.message ?? error),
  };
  process.stderr.write(JSON.stringify({ error: detail }) + "\n");
  process.exit(1);
}
