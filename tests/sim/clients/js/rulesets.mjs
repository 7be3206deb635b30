// Drives the simulator's rulesets with unmodified @octokit/rest as an organization owner
// would: an org ruleset for every branch of one repository, a repository ruleset for release branches,
// the branch rules they add up to, the refusals they cause on the refs API, an update to
// `evaluate`, and deleting both. Prints one JSON object on stdout; an unexpected failure
// exits 1 with the status and GitHub's message on stderr.
//
//   node rulesets.mjs --base-url URL --token TOKEN --org ORG --repo REPO
import { parseArgs } from "node:util";

import { Octokit } from "@octokit/rest";

const { values: args } = parseArgs({
  options: {
    "base-url": { type: "string" },
    token: { type: "string" },
    org: { type: "string" },
    repo: { type: "string" },
  },
  strict: true,
});
for (const name of ["base-url", "token", "org", "repo"]) {
  if (!args[name]) {
    process.stderr.write(`missing --${name}\n`);
    process.exit(2);
  }
}

const octokit = new Octokit({ auth: args.token, baseUrl: args["base-url"] });
const owner = args.org;
const repo = args.repo;

async function failure(call) {
  try {
    await call();
  } catch (error) {
    if (error.name !== "HttpError") throw error;
    return { status: error.status, message: error.response?.data?.message ?? null };
  }
  throw new Error("expected the request to fail");
}

async function main() {
  const out = {};
  const { data: orgRuleset } = await octokit.rest.repos.createOrgRuleset({
    org: owner,
    name: "keep branches",
    target: "branch",
    enforcement: "active",
    conditions: {
      ref_name: { include: ["~ALL"], exclude: [] },
      repository_name: { include: [repo], exclude: [] },
    },
    rules: [{ type: "deletion" }, { type: "non_fast_forward" }],
  });
  const { data: repoRuleset } = await octokit.rest.repos.createRepoRuleset({
    owner,
    repo,
    name: "releases",
    target: "branch",
    enforcement: "active",
    bypass_actors: [{ actor_id: 5, actor_type: "RepositoryRole", bypass_mode: "pull_request" }],
    conditions: { ref_name: { include: ["refs/heads/release/*"], exclude: [] } },
    rules: [{ type: "creation" }],
  });
  out.created = {
    org: { id: orgRuleset.id, source_type: orgRuleset.source_type, source: orgRuleset.source },
    repo: {
      id: repoRuleset.id,
      source_type: repoRuleset.source_type,
      current_user_can_bypass: repoRuleset.current_user_can_bypass,
    },
  };

  const listed = await octokit.paginate(octokit.rest.repos.getRepoRulesets, { owner, repo });
  out.listed = listed.map((r) => [r.id, r.source_type]).sort((a, b) => a[0] - b[0]);
  const rules = await octokit.paginate(octokit.rest.repos.getBranchRules, {
    owner,
    repo,
    branch: "main",
  });
  out.main_rules = rules.map((r) => [r.type, r.ruleset_source_type, r.ruleset_id]);
  const releaseRules = await octokit.paginate(octokit.rest.repos.getBranchRules, {
    owner,
    repo,
    branch: "release/1",
  });
  out.release_rules = releaseRules.map((r) => [r.type, r.ruleset_source_type, r.ruleset_id]);

  const { data: main } = await octokit.rest.git.getRef({ owner, repo, ref: "heads/main" });
  out.refused = {
    create: await failure(() =>
      octokit.rest.git.createRef({ owner, repo, ref: "refs/heads/release/1", sha: main.object.sha }),
    ),
  };

  const { data: updated } = await octokit.rest.repos.updateRepoRuleset({
    owner,
    repo,
    ruleset_id: repoRuleset.id,
    enforcement: "evaluate",
  });
  const { data: reread } = await octokit.rest.repos.getRepoRuleset({
    owner,
    repo,
    ruleset_id: repoRuleset.id,
  });
  out.updated = { enforcement: updated.enforcement, reread: reread.enforcement };
  const { data: release } = await octokit.rest.git.createRef({
    owner,
    repo,
    ref: "refs/heads/release/1",
    sha: main.object.sha,
  });
  out.release_ref = release.ref;
  out.refused.delete = await failure(() =>
    octokit.rest.git.deleteRef({ owner, repo, ref: "heads/release/1" }),
  );

  await octokit.rest.repos.deleteRepoRuleset({ owner, repo, ruleset_id: repoRuleset.id });
  await octokit.rest.repos.deleteOrgRuleset({ org: owner, ruleset_id: orgRuleset.id });
  out.after = {
    org: (await octokit.rest.repos.getOrgRulesets({ org: owner })).data.length,
    repo: (await octokit.rest.repos.getRepoRulesets({ owner, repo })).data.length,
    missing: await failure(() =>
      octokit.rest.repos.getOrgRuleset({ org: owner, ruleset_id: orgRuleset.id }),
    ),
  };
  return out;
}

try {
  process.stdout.write(JSON.stringify(await main()) + "\n");
} catch (error) {
  const detail = {
    status: error.status ?? null,
    url: error.request?.url ?? null,
    message: error.response?.data?.message ?? String(error.message ?? error),
    errors: error.response?.data?.errors ?? null,
  };
  process.stderr.write(JSON.stringify({ error: detail }) + "\n");
  process.exit(1);
}
