// Drives the simulator with unmodified @octokit/rest the way a script holding one token (a
// personal access token or an App installation token) changes a repository: pages an org's
// repositories, edits files on a new branch, opens a pull request and works it (labels,
// reviewers, assignees, statuses, a check run), merges it, closes another, deletes the
// branches, renames the repository and reads it back under its old name. Also records how
// octokit reports GitHub's 404 and 422 answers. Prints one JSON object on stdout; an
// unexpected failure exits 1 with the status and GitHub's message on stderr.
//
//   node everyday.mjs --base-url URL --token TOKEN --org ORG --repo REPO --team SLUG
//        --reviewer LOGIN --assignee LOGIN --rename-to NAME [--check-run]
import { parseArgs } from "node:util";

import { Octokit } from "@octokit/rest";

const { values: args } = parseArgs({
  options: {
    "base-url": { type: "string" },
    token: { type: "string" },
    org: { type: "string" },
    repo: { type: "string" },
    team: { type: "string" },
    reviewer: { type: "string" },
    assignee: { type: "string" },
    "rename-to": { type: "string" },
    "check-run": { type: "boolean", default: false },
  },
  strict: true,
});
for (const name of ["base-url", "token", "org", "repo", "team", "reviewer", "assignee", "rename-to"]) {
  if (!args[name]) {
    process.stderr.write(`missing --${name}\n`);
    process.exit(2);
  }
}

const octokit = new Octokit({ auth: args.token, baseUrl: args["base-url"] });
const owner = args.org;
const repo = args.repo;
const decode = (b64) => Buffer.from(b64, "base64").toString("utf8");
const encode = (text) => Buffer.from(text, "utf8").toString("base64");

// octokit's RequestError for a call expected to fail.
async function failure(call) {
  try {
    await call();
  } catch (error) {
    if (error.name !== "HttpError") throw error;
    return {
      status: error.status,
      message: error.response?.data?.message ?? null,
      errors: error.response?.data?.errors ?? null,
      documentation_url: error.response?.data?.documentation_url ?? null,
    };
  }
  throw new Error("expected the request to fail");
}

async function branchWithFile(branch, base, path, text, message) {
  await octokit.rest.git.createRef({ owner, repo, ref: `refs/heads/${branch}`, sha: base });
  const { data } = await octokit.rest.repos.createOrUpdateFileContents({
    owner,
    repo,
    path,
    branch,
    message,
    content: encode(text),
  });
  return data;
}

async function main() {
  const out = {};
  const repos = await octokit.paginate(octokit.rest.repos.listForOrg, { org: owner, per_page: 10 });
  out.org_repos = repos.map((r) => r.name);

  const { data: meta } = await octokit.rest.repos.get({ owner, repo });
  const { data: readme } = await octokit.rest.repos.getContent({ owner, repo, path: "README.md" });
  out.readme = { sha: readme.sha, text: decode(readme.content), encoding: readme.encoding };
  const { data: main } = await octokit.rest.git.getRef({
    owner,
    repo,
    ref: `heads/${meta.default_branch}`,
  });
  const base = main.object.sha;

  // The branch of the pull request that is merged: one new file, one updated file.
  const created = await branchWithFile("everyday/feature", base, "NOTES.md", "notes\n", "Add notes");
  const { data: updated } = await octokit.rest.repos.createOrUpdateFileContents({
    owner,
    repo,
    path: "README.md",
    branch: "everyday/feature",
    message: "Update the readme",
    content: encode(out.readme.text + "updated by octokit\n"),
    sha: readme.sha,
  });
  const { data: reread } = await octokit.rest.repos.getContent({
    owner,
    repo,
    path: "README.md",
    ref: "everyday/feature",
  });
  out.contents = {
    created_path: created.content.path,
    created_commit: created.commit.sha,
    updated_commit: updated.commit.sha,
    updated_parent: updated.commit.parents[0].sha,
    reread: decode(reread.content),
  };

  const { data: pull } = await octokit.rest.pulls.create({
    owner,
    repo,
    title: "Notes and readme",
    head: "everyday/feature",
    base: meta.default_branch,
    body: "Opened by octokit.js",
  });
  const number = pull.number;
  const { data: labels } = await octokit.rest.issues.addLabels({
    owner,
    repo,
    issue_number: number,
    labels: ["bug", "enhancement"],
  });
  const { data: requested } = await octokit.rest.pulls.requestReviewers({
    owner,
    repo,
    pull_number: number,
    reviewers: [args.reviewer],
    team_reviewers: [args.team],
  });
  const { data: assigned } = await octokit.rest.issues.addAssignees({
    owner,
    repo,
    issue_number: number,
    assignees: [args.assignee],
  });
  out.pull = {
    number,
    head_sha: pull.head.sha,
    labels: labels.map((l) => l.name),
    requested_reviewers: requested.requested_reviewers.map((u) => u.login),
    requested_teams: requested.requested_teams.map((t) => t.slug),
    assignees: assigned.assignees.map((u) => u.login),
  };

  const listed = await octokit.paginate(octokit.rest.pulls.list, { owner, repo, state: "open" });
  const { data: got } = await octokit.rest.pulls.get({ owner, repo, pull_number: number });
  const files = await octokit.paginate(octokit.rest.pulls.listFiles, { owner, repo, pull_number: number });
  const commits = await octokit.paginate(octokit.rest.pulls.listCommits, {
    owner,
    repo,
    pull_number: number,
  });
  out.read = {
    listed: listed.map((p) => p.number),
    got: { state: got.state, mergeable: got.mergeable, labels: got.labels.map((l) => l.name) },
    files: files.map((f) => [f.filename, f.status]),
    commits: commits.map((c) => c.sha),
  };

  const { data: status } = await octokit.rest.repos.createCommitStatus({
    owner,
    repo,
    sha: pull.head.sha,
    state: "success",
    context: "ci/everyday",
    description: "green",
  });
  out.status = { state: status.state, context: status.context };
  if (args["check-run"]) {
    const { data: run } = await octokit.rest.checks.create({
      owner,
      repo,
      name: "everyday-check",
      head_sha: pull.head.sha,
      status: "completed",
      conclusion: "success",
    });
    out.check_run = { name: run.name, conclusion: run.conclusion, head_sha: run.head_sha };
  }

  const { data: merged } = await octokit.rest.pulls.merge({
    owner,
    repo,
    pull_number: number,
    merge_method: "squash",
  });
  out.merged = { merged: merged.merged, sha: merged.sha, message: merged.message };

  await branchWithFile("everyday/abandoned", base, "ABANDONED.md", "no\n", "Abandon");
  const { data: other } = await octokit.rest.pulls.create({
    owner,
    repo,
    title: "Abandoned",
    head: "everyday/abandoned",
    base: meta.default_branch,
  });
  const { data: closed } = await octokit.rest.pulls.update({
    owner,
    repo,
    pull_number: other.number,
    state: "closed",
  });
  out.closed = { number: other.number, state: closed.state, merged: closed.merged };

  for (const branch of ["everyday/feature", "everyday/abandoned"]) {
    await octokit.rest.git.deleteRef({ owner, repo, ref: `heads/${branch}` });
  }
  out.deleted_ref = await failure(() =>
    octokit.rest.git.getRef({ owner, repo, ref: "heads/everyday/feature" }),
  );

  const { data: renamed } = await octokit.rest.repos.update({ owner, repo, name: args["rename-to"] });
  const { data: followed } = await octokit.rest.repos.get({ owner, repo });
  out.renamed = { name: renamed.name, full_name: renamed.full_name, followed: followed.full_name };

  out.errors = {
    not_found: await failure(() => octokit.rest.repos.get({ owner, repo: "no-such-repository" })),
    ref_exists: await failure(() =>
      octokit.rest.git.createRef({ owner, repo: args["rename-to"], ref: "refs/heads/main", sha: base }),
    ),
    no_commits: await failure(() =>
      octokit.rest.pulls.create({
        owner,
        repo: args["rename-to"],
        title: "Nothing",
        head: meta.default_branch,
        base: meta.default_branch,
      }),
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
