// Sirocco's web view: live updates by short polling, and actions through the REST API.
// Every page reads without this script; it only adds live state and buttons that work.
"use strict";

(function () {
  const POLL_MS = 1500;
  const FINISHED = new Set(["SUCCESS", "ERROR", "CANCELLED"]);

  function show(text, kind) {
    const box = document.getElementById("message");
    if (!box) return;
    box.textContent = text;
    box.className = "message " + (kind || "info");
    box.hidden = !text;
  }

  async function errorText(response) {
    const text = await response.text();
    try {
      const body = JSON.parse(text);
      if (body && body.faultstring) return body.faultstring;
    } catch (ignored) { /* not JSON: show the text as it is */ }
    return text || response.status + " " + response.statusText;
  }

  async function api(method, path, body) {
    const options = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    if (!response.ok) throw new Error(await errorText(response));
    return response.status === 204 ? null : response.json();
  }

  // What each button does: a question to confirm, then one API call.
  const ACTIONS = {
    pause: (b) => ["Pause this execution?", () => api("PUT", "/v2/executions/" + b.dataset.execution, { state: "PAUSED" })],
    resume: (b) => ["Resume this execution?", () => api("PUT", "/v2/executions/" + b.dataset.execution, { state: "RUNNING" })],
    cancel: (b) => ["Cancel this execution?", () => api("PUT", "/v2/executions/" + b.dataset.execution, { state: "CANCELLED" })],
    delete: (b) => ["Delete this execution and everything it recorded?", () => api("DELETE", "/v2/executions/" + b.dataset.execution)],
    rerun: (b) => ["Rerun this task from the start?", () => api("PUT", "/v2/tasks/" + b.dataset.task, { state: "RUNNING", reset: true })],
    "rerun-failed": (b) => ["Rerun only the failed items of this task?", () => api("PUT", "/v2/tasks/" + b.dataset.task, { state: "RUNNING", reset: false })],
    skip: (b) => ["Skip this task and go on as if it had succeeded?", () => api("PUT", "/v2/tasks/" + b.dataset.task, { state: "SKIPPED" })],
  };

  async function act(button) {
    const [question, call] = ACTIONS[button.dataset.action](button);
    if (!window.confirm(question)) return;
    button.disabled = true;
    try {
      await call();
      show("Done: " + button.textContent.trim().toLowerCase() + ".", "info");
      if (button.dataset.then) { window.location.assign(button.dataset.then); return; }
      extraPolls = 4;
      refresh();
    } catch (error) {
      show("Refused: " + error.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) { event.preventDefault(); act(button); return; }
    const link = event.target.closest("a.task-link[data-task-id], a.failed-task-link[data-task-id]");
    const panel = document.getElementById("task-panel");
    if (link && panel && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      openTask(link.dataset.taskId);
    }
  });

  // ---------------------------------------------------------------- the task panel

  let openTaskId = null;
  let openTaskState = null;

  async function openTask(taskId) {
    const panel = document.getElementById("task-panel");
    openTaskId = taskId;
    document.querySelectorAll("g.node.selected").forEach((node) => node.classList.remove("selected"));
    const link = document.querySelector('g.node a.task-link[data-task-id="' + taskId + '"]');
    if (link) link.closest("g.node").classList.add("selected");
    try {
      const response = await fetch("/ui/tasks/" + taskId, { credentials: "same-origin" });
      if (!response.ok) throw new Error(await errorText(response));
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const detail = page.getElementById("task-detail");
      openTaskState = detail.dataset.state;
      panel.replaceChildren(closeButton(), document.adoptNode(detail));
      panel.hidden = false;
    } catch (error) {
      show("Could not load the task: " + error.message, "error");
    }
  }

  function closeButton() {
    const button = document.createElement("a");
    button.href = "#";
    button.className = "close";
    button.textContent = "Close ×";
    button.addEventListener("click", (event) => {
      event.preventDefault();
      openTaskId = null;
      document.getElementById("task-panel").hidden = true;
    });
    return button;
  }

  // ---------------------------------------------------------------- live execution

  let timer = null;
  let extraPolls = 0; // after an action, look a few more times even if the execution looks finished

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, delay);
  }

  function refresh() {
    if (document.getElementById("execution")) return refreshExecution();
    if (document.querySelector("[data-live-list]")) return refreshList();
  }

  function badge(state) {
    const span = document.createElement("span");
    span.className = "badge state-" + state;
    span.textContent = state;
    return span;
  }

  async function refreshExecution() {
    const section = document.getElementById("execution");
    const id = section.dataset.execution;
    let live;
    try {
      const after = section.dataset.tasksAfter;
      const url = "/ui/executions/" + id + "/live" + (after ? "?tasks_after=" + encodeURIComponent(after) : "");
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(await errorText(response));
      live = await response.json();
    } catch (error) {
      show("Live updates stopped: " + error.message, "error");
      return;
    }
    document.getElementById("execution-state").replaceChildren(badge(live.state));
    document.getElementById("execution-duration").textContent = live.duration;
    document.getElementById("execution-count").textContent = String(live.task_total);
    const total = document.getElementById("tasks-total");
    if (total) total.textContent = String(live.task_total);
    const paging = document.getElementById("tasks-paging");
    if (paging && live.tasks_next) {
      let next = document.getElementById("tasks-next");
      if (!next) {
        next = document.createElement("a");
        next.id = "tasks-next";
        next.textContent = "Next tasks »";
        paging.append(" ", next);
      }
      next.href = "/ui/executions/" + id + "?tasks_after=" + encodeURIComponent(live.tasks_next) + "#tasks-table";
      paging.hidden = false;
    }
    const info = document.getElementById("execution-state-info");
    info.textContent = live.state_info;
    info.hidden = !live.state_info;
    info.classList.toggle("error", live.state === "ERROR");
    updateNodes(live.nodes);
    updateTasks(live.tasks);
    if (openTaskId) {
      const current = live.tasks.find((task) => task.id === openTaskId);
      if (current && current.state !== openTaskState) openTask(openTaskId);
    }
    section.dataset.finished = live.finished ? "true" : "false";
    if (!live.finished || extraPolls > 0) {
      extraPolls = Math.max(extraPolls - 1, 0);
      schedule(POLL_MS);
    }
  }

  function updateNodes(nodes) {
    document.querySelectorAll("svg.graph g.node").forEach((group) => {
      const status = nodes[group.dataset.task];
      if (!status) return;
      group.setAttribute("class", group.getAttribute("class").replace(/state-\S+/, "state-" + status.state));
      group.querySelector(".node-status").textContent = status.status;
      const link = group.querySelector("a.task-link");
      link.setAttribute("href", "/ui/tasks/" + status.task_id);
      link.dataset.taskId = status.task_id;
      const sub = group.querySelector("a.sub-link");
      if (sub && status.sub_execution_id) {
        sub.setAttribute("href", "/ui/executions/" + status.sub_execution_id);
        sub.removeAttribute("display");
      }
    });
  }

  function updateTasks(tasks) {
    const body = document.querySelector("#tasks-table tbody");
    if (!body) return;
    const rows = tasks.map((task) => {
      const row = document.createElement("tr");
      row.dataset.taskId = task.id;
      const name = document.createElement("td");
      const link = document.createElement("a");
      link.className = "task-link";
      link.href = "/ui/tasks/" + task.id;
      link.dataset.taskId = task.id;
      link.textContent = task.name;
      name.append(link);
      if (task.sub_execution_id) {
        const sub = document.createElement("a");
        sub.className = "sub-link";
        sub.href = "/ui/executions/" + task.sub_execution_id;
        sub.textContent = " sub-workflow ↳";
        name.append(sub);
      }
      const state = document.createElement("td");
      state.append(badge(task.state));
      const status = document.createElement("td");
      status.textContent = task.status;
      const info = document.createElement("td");
      info.className = "info";
      info.textContent = task.state_info;
      row.append(name, state, status, info);
      return row;
    });
    body.replaceChildren(...rows);
  }

  async function refreshExplain() {
    const box = document.getElementById("explain");
    const section = document.getElementById("execution");
    if (!box || !section || !section.dataset.explain) return;
    try {
      const response = await fetch(section.dataset.explain, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const body = await response.json();
      const text = typeof body === "string" ? body : (body.explanation || body.text || JSON.stringify(body, null, 2));
      box.textContent = text;  // the summary says what it waits on, or why it failed
      box.hidden = false;
    } catch (ignored) { /* the explanation is optional */ }
  }

  // ---------------------------------------------------------------- live list

  async function refreshList() {
    const holder = document.querySelector("[data-live-list]");
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      if (response.ok) {
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.querySelector("[data-live-list]");
        if (fresh) holder.replaceChildren(...Array.from(fresh.childNodes).map((node) => document.adoptNode(node)));
      }
    } catch (ignored) { /* try again at the next tick */ }
    schedule(POLL_MS * 2);
  }

  // ---------------------------------------------------------------- start form

  function startForm() {
    const form = document.getElementById("start-form");
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = form.querySelector("textarea").value.trim() || "{}";
      let input;
      try {
        input = JSON.parse(text);
      } catch (error) {
        show("The input is not valid JSON: " + error.message, "error");
        return;
      }
      if (input === null || typeof input !== "object" || Array.isArray(input)) {
        show("The input must be a JSON object, like {\"name\": \"Ann\"}.", "error");
        return;
      }
      try {
        const created = await api("POST", "/v2/executions", { workflow_id: form.dataset.workflowId, input: JSON.stringify(input) });
        window.location.assign("/ui/executions/" + created.id);
      } catch (error) {
        show("Refused: " + error.message, "error");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    startForm();
    const section = document.getElementById("execution");
    if (section) {
      refreshExplain();
      if (section.dataset.finished !== "true") schedule(POLL_MS);
    } else if (document.querySelector("[data-live-list]")) {
      schedule(POLL_MS * 2);
    }
  });
})();
