// Live agent page: keeps the open positions table, the SOL balance, the closed trades and the
// signal executions current from the agent's WebSocket (/ws/agents/<id>/, session cookie auth).
// Plain browser JavaScript, no build step. Every value from the server is written with
// textContent, never as HTML.
(function () {
  "use strict";

  const root = document.getElementById("agent");
  if (!root) {
    return;
  }

  const SOL_MINT = root.dataset.solMint;
  const POSITIONS_URL = root.dataset.positionsUrl;
  const AGENT_URL = window.location.pathname;
  // The close reasons' words, from the server's one list (trading.history_selectors).
  const wordsEl = document.getElementById("close-reason-words");
  const CLOSE_WORDS = wordsEl ? JSON.parse(wordsEl.textContent) : { words: {}, trailing: "" };
  // A signal decision's reason in words, from the server's one list (signals_app.reasons).
  const reasonsEl = document.getElementById("signal-reason-words");
  const REASON_WORDS = reasonsEl ? JSON.parse(reasonsEl.textContent) : {};
  const RECENT_ROWS = Number(root.dataset.recentRows) || 20;
  // The agent's take-profit levels and DCA buys in force (0: off), for each row's progress.
  const TAKE_PROFIT_LEVELS = Number(root.dataset.takeProfitLevels) || 0;
  const DCA_LEVELS = Number(root.dataset.dcaLevels) || 0;
  const BACKOFF_START_MS = 1000;
  const BACKOFF_MAX_MS = 30000;
  // The server pings every 30 s; this long without any message means the link is dead even if
  // the browser has not noticed yet.
  const IDLE_LIMIT_MS = 75000;
  const AUTH_CLOSE_CODES = [4401, 4403];

  const openBody = document.querySelector("#open-positions tbody");
  const closedBody = document.querySelector("#closed-trades tbody");
  const executionsBody = document.querySelector("#signal-executions tbody");
  const statusEl = document.getElementById("ws-status");
  const errorEl = document.getElementById("ws-error");
  const balanceEl = document.getElementById("sol-balance");
  const openCountEl = document.getElementById("open-count");

  // Open positions by id, and the newest price per token. `seq` orders what we received, so a
  // price tick newer than a position snapshot wins over the snapshot's own figures.
  const positions = new Map();
  const prices = new Map();
  let seq = 0;

  // ---- formatting ---------------------------------------------------------------------------

  const DASH = "–";

  function num(value) {
    if (value === null || value === undefined || value === "") {
      return null;
    }
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }

  function format(value, options) {
    const n = num(value);
    if (n === null) {
      return DASH;
    }
    return new Intl.NumberFormat("en-US", Object.assign({ useGrouping: false }, options)).format(n);
  }

  const fmtSol = (v) => format(v, { minimumFractionDigits: 4, maximumFractionDigits: 4 });
  const fmtPrice = (v) => format(v, { maximumSignificantDigits: 6 });
  const fmtPercent = (v) => format(v, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const fmtSignedSol = (v) =>
    format(v, { minimumFractionDigits: 4, maximumFractionDigits: 4, signDisplay: "exceptZero" });
  const fmtSignedPercent = (v) => {
    const text = format(v, {
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
      signDisplay: "exceptZero",
    });
    return text === DASH ? text : text + "%";
  };

  function fmtAmount(value) {
    const n = num(value);
    if (n === null) {
      return DASH;
    }
    return Math.abs(n) >= 1
      ? format(n, { maximumFractionDigits: 2 })
      : format(n, { maximumSignificantDigits: 6 });
  }

  function fmtTime(iso) {
    if (!iso) {
      return DASH;
    }
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) {
      return iso;
    }
    return date.toISOString().slice(0, 19).replace("T", " ");
  }

  function shortAddress(address) {
    return address && address.length > 10 ? address.slice(0, 4) + "…" + address.slice(-4) : address || "";
  }

  function humanise(code) {
    const text = String(code || "").replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // As trading.history_selectors.close_kind: a stop loss that sold in profit is a trailing stop.
  function closeReasonText(reason, profitLoss) {
    const kind = reason === "stop_loss" && num(profitLoss) > 0 ? CLOSE_WORDS.trailing : reason;
    return CLOSE_WORDS.words[kind] || humanise(kind);
  }

  function signClass(value) {
    const n = num(value);
    if (n === null || n === 0) {
      return "";
    }
    return n > 0 ? "pos" : "neg";
  }

  // ---- DOM helpers --------------------------------------------------------------------------

  function cell(text, className, title) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) {
      td.className = className;
    }
    if (title) {
      td.title = title;
    }
    return td;
  }

  function timeCell(iso) {
    const td = document.createElement("td");
    const time = document.createElement("time");
    if (iso) {
      time.setAttribute("datetime", iso);
    }
    time.textContent = fmtTime(iso);
    td.appendChild(time);
    return td;
  }

  function tokenCell(address, symbol) {
    return cell(symbol || shortAddress(address), "token", address);
  }

  function positionUrl(id) {
    return POSITIONS_URL + encodeURIComponent(String(id));
  }

  // The token, linking to the position's own page.
  function positionTokenCell(position) {
    const td = cell("", "token", position.token_address);
    const link = document.createElement("a");
    link.href = positionUrl(position.id);
    link.textContent = position.token_symbol || shortAddress(position.token_address);
    td.appendChild(link);
    return td;
  }

  // Closing asks first: the link opens the confirmation page, whose button posts the close.
  function closeCell(position) {
    const td = cell("", "actions");
    const link = document.createElement("a");
    link.className = "button small danger close-position";
    link.href = positionUrl(position.id) + "/close?next=" + encodeURIComponent(AGENT_URL);
    link.textContent = "Close…";
    td.appendChild(link);
    return td;
  }

  // Each cell carries its column's heading, shown as its label when rows become cards.
  function labelCells(tr, body) {
    const heads = body.parentElement.tHead.rows[0].cells;
    for (let i = 0; i < tr.cells.length && i < heads.length; i += 1) {
      tr.cells[i].setAttribute("data-label", heads[i].textContent.trim());
    }
    return tr;
  }

  function findRow(body, attribute, id) {
    for (const row of body.rows) {
      if (row.getAttribute(attribute) === String(id)) {
        return row;
      }
    }
    return null;
  }

  function setPlaceholder(body, columns, text) {
    const existing = body.querySelector("tr.placeholder");
    const hasRows = body.rows.length > (existing ? 1 : 0);
    if (hasRows) {
      if (existing) {
        existing.remove();
      }
      return;
    }
    if (existing) {
      existing.cells[0].textContent = text;
      return;
    }
    const tr = document.createElement("tr");
    tr.className = "placeholder";
    const td = cell(text);
    td.colSpan = columns;
    tr.appendChild(td);
    body.appendChild(tr);
  }

  function prependCapped(body, row, attribute, id) {
    const existing = findRow(body, attribute, id);
    if (existing) {
      existing.remove();
    }
    const placeholder = body.querySelector("tr.placeholder");
    if (placeholder) {
      placeholder.remove();
    }
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > RECENT_ROWS) {
      body.deleteRow(body.rows.length - 1);
    }
  }

  // ---- status and errors --------------------------------------------------------------------

  function setStatus(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text || state;
    // Figures shown while not live may be out of date; the stylesheet dims them.
    root.classList.toggle("stale", state !== "live");
  }

  let errorTimer = null;

  function showError(message) {
    errorEl.textContent = message || "The server reported an error.";
    errorEl.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => {
      errorEl.hidden = true;
    }, 15000);
  }

  // ---- open positions -----------------------------------------------------------------------

  // Figures for display. After a newer price tick they are derived here the way the server
  // derives them (trading.selectors.position_payload): value is what the remaining tokens fetch
  // at that price; the cost of the remaining tokens is their share of total_invested_sol; P/L
  // and P/L % are value against that cost.
  function figures(position) {
    const tick = prices.get(position.token_address);
    if (tick && (tick.seq > position.seq || position.current_price === null)) {
      const price = num(tick.price_sol);
      const invested = num(position.total_invested_sol);
      const bought = num(position.total_tokens_bought);
      const remaining = num(position.remaining_amount);
      if (price !== null && invested !== null && remaining !== null) {
        const value = remaining * price;
        const cost = bought ? (remaining / bought) * invested : 0;
        const pnl = value - cost;
        return { price: price, value: value, pnl: pnl, pnlPercent: cost ? (pnl / cost) * 100 : 0 };
      }
    }
    return {
      price: num(position.current_price),
      value: num(position.value_sol),
      pnl: num(position.unrealized_pnl_sol),
      pnlPercent: num(position.unrealized_pnl_percent),
    };
  }

  function positionRow(position) {
    const f = figures(position);
    const tr = document.createElement("tr");
    tr.setAttribute("data-position-id", String(position.id));
    tr.setAttribute("data-token-address", position.token_address);
    tr.appendChild(positionTokenCell(position));
    tr.appendChild(cell(fmtAmount(position.remaining_amount), "num amount"));
    tr.appendChild(cell(fmtPrice(position.purchase_price), "num avg-price"));
    tr.appendChild(cell(fmtPrice(f.price), "num current-price"));
    tr.appendChild(cell(fmtSol(f.value), "num value"));
    tr.appendChild(cell(fmtSignedSol(f.pnl), ("num pnl-sol " + signClass(f.pnl)).trim()));
    tr.appendChild(
      cell(fmtSignedPercent(f.pnlPercent), ("num pnl-percent " + signClass(f.pnlPercent)).trim()),
    );
    tr.appendChild(cell(fmtPercent(position.stop_loss_percent) + "%", "num stop-loss"));
    tr.appendChild(cell(fmtPrice(position.stop_price), "num stop-price"));
    tr.appendChild(cell(takeProfitProgress(position), "num take-profit"));
    tr.appendChild(cell(dcaProgress(position), "num dca"));
    tr.appendChild(timeCell(position.opened_at));
    tr.appendChild(closeCell(position));
    return labelCells(tr, openBody);
  }

  function takeProfitProgress(position) {
    const hit = Number(position.take_profit_levels_hit) || 0;
    const moonBag = position.moon_bag_activated ? " + moon bag" : "";
    if (!TAKE_PROFIT_LEVELS) {
      return hit ? String(hit) + moonBag : "off";
    }
    return `${hit}/${TAKE_PROFIT_LEVELS}${moonBag}`;
  }

  function dcaProgress(position) {
    const count = Number(position.dca_count) || 0;
    if (!DCA_LEVELS) {
      return count ? String(count) : "off";
    }
    return `${count}/${DCA_LEVELS}`;
  }

  function refreshOpenCount() {
    openCountEl.textContent = String(positions.size);
    setPlaceholder(openBody, 13, "No open positions.");
  }

  function renderPosition(position) {
    const row = positionRow(position);
    const existing = findRow(openBody, "data-position-id", position.id);
    if (existing) {
      // Only the cells that changed are replaced: a link the pointer is on stays in place, so
      // a click is not lost to a price tick.
      const cells = Array.from(row.cells);
      cells.forEach((td, i) => {
        const old = existing.cells[i];
        if (!old) {
          existing.appendChild(td);
        } else if (old.outerHTML !== td.outerHTML) {
          existing.replaceChild(td, old);
        }
      });
    } else {
      openBody.insertBefore(row, openBody.firstChild);
    }
  }

  function storePosition(position) {
    position.seq = ++seq;
    positions.set(position.id, position);
  }

  // Newest first, the same place a newly created position appears.
  function replacePositions(list) {
    positions.clear();
    openBody.replaceChildren();
    const newestFirst = (list || []).slice().sort((a, b) => b.id - a.id);
    for (const position of newestFirst) {
      if (position.status === "closed") {
        continue;
      }
      storePosition(position);
      openBody.appendChild(positionRow(position));
    }
    refreshOpenCount();
  }

  function closedTradeRow(position) {
    const trade = position.closed_trade;
    const tr = document.createElement("tr");
    tr.setAttribute("data-position-id", String(position.id));
    tr.appendChild(positionTokenCell(position));
    tr.appendChild(
      cell(closeReasonText(trade.close_reason || position.close_reason, trade.profit_loss_sol)),
    );
    tr.appendChild(cell(fmtSol(trade.invested_sol), "num"));
    tr.appendChild(cell(fmtSol(trade.received_sol), "num"));
    tr.appendChild(
      cell(fmtSignedSol(trade.profit_loss_sol), ("num " + signClass(trade.profit_loss_sol)).trim()),
    );
    tr.appendChild(
      cell(fmtSignedPercent(trade.change_percent), ("num " + signClass(trade.change_percent)).trim()),
    );
    tr.appendChild(timeCell(trade.closed_at || position.closed_at));
    return labelCells(tr, closedBody);
  }

  // ---- performance cards ---------------------------------------------------------------------

  // Equity and unrealised P/L follow every tick, derived as the rows are (figures above): SOL
  // held plus what the open positions fetch now, and their P/L. A closed trade changes every
  // card, so the server's exact set is asked for again (htmx, the cards' hx-trigger).
  function setCard(name, value, signed) {
    const card = document.querySelector(`#performance [data-figure="${name}"] .value`);
    if (!card) {
      return;
    }
    card.textContent = signed ? fmtSignedSol(value) : fmtSol(value);
    if (signed) {
      card.classList.remove("pos", "neg");
      const sign = signClass(value);
      if (sign) {
        card.classList.add(sign);
      }
    }
  }

  function refreshLiveCards() {
    const sol = num(balanceEl.dataset.amount);
    let value = 0;
    let pnl = 0;
    for (const position of positions.values()) {
      const f = figures(position);
      if (f.value === null || f.pnl === null) {
        return; // a position not yet priced: the cards keep the server's figures
      }
      value += f.value;
      pnl += f.pnl;
    }
    if (sol !== null) {
      setCard("equity_sol", sol + value, false);
      setCard("unrealised_pnl_sol", pnl, true);
    }
  }

  function onPositionUpdate(data) {
    const position = data && data.position;
    if (!position) {
      return;
    }
    if (data.event === "position_closed" || position.status === "closed") {
      positions.delete(position.id);
      const row = findRow(openBody, "data-position-id", position.id);
      if (row) {
        row.remove();
      }
      if (position.closed_trade) {
        prependCapped(closedBody, closedTradeRow(position), "data-position-id", position.id);
      }
      document.body.dispatchEvent(new CustomEvent("trade-closed"));
    } else {
      storePosition(position);
      renderPosition(position);
      refreshLiveCards();
    }
    refreshOpenCount();
  }

  function onPriceBatch(list) {
    const touched = new Set();
    const at = ++seq;
    for (const tick of list || []) {
      if (!tick || !tick.token_address) {
        continue;
      }
      prices.set(tick.token_address, { price_sol: tick.price_sol, seq: at });
      touched.add(tick.token_address);
    }
    for (const position of positions.values()) {
      if (touched.has(position.token_address)) {
        renderPosition(position);
      }
    }
    refreshLiveCards();
  }

  // ---- balances and executions --------------------------------------------------------------

  function onBalances(balances, snapshot) {
    const sol = (balances || []).find((balance) => balance.token_address === SOL_MINT);
    // A full snapshot without a SOL row means none is held; an update without one changes nothing.
    const amount = sol ? sol.amount : snapshot ? "0" : null;
    if (amount === null) {
      return;
    }
    balanceEl.dataset.amount = amount;
    balanceEl.textContent = fmtSol(amount);
    refreshLiveCards();
  }

  function executionRow(execution) {
    const tr = document.createElement("tr");
    tr.setAttribute("data-signal-id", String(execution.signal_id));
    tr.appendChild(timeCell(execution.created_at));
    tr.appendChild(tokenCell(execution.token_address, execution.token_symbol));
    tr.appendChild(cell(execution.signal_type || DASH));
    const statusCell = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = "status status-" + String(execution.status || "").replace(/[^a-z_]/g, "");
    badge.textContent = execution.status || DASH;
    statusCell.appendChild(badge);
    tr.appendChild(statusCell);
    // As signals_app.reasons.reason_text: an unknown code is shown in words as it is.
    const reason = execution.reason
      ? REASON_WORDS[execution.reason] || humanise(execution.reason) + "."
      : DASH;
    const reasonCell = cell(reason, "reason");
    if (execution.reason) {
      reasonCell.setAttribute("data-reason", execution.reason);
    }
    tr.appendChild(reasonCell);
    return labelCells(tr, executionsBody);
  }

  function onSignalExecution(execution) {
    if (!execution) {
      return;
    }
    prependCapped(executionsBody, executionRow(execution), "data-signal-id", execution.signal_id);
  }

  // ---- the socket ---------------------------------------------------------------------------

  const socketUrl =
    (window.location.protocol === "https:" ? "wss://" : "ws://") +
    window.location.host +
    root.dataset.wsPath;

  let socket = null;
  let attempt = 0;
  let reconnectTimer = null;
  let idleTimer = null;
  let stopped = false;

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
    }
  }

  function handle(message) {
    const data = message.data;
    switch (message.type) {
      case "connected":
        attempt = 0;
        setStatus("live", "live");
        break;
      case "initial_data":
        attempt = 0;
        setStatus("live", "live");
        replacePositions(data && data.positions);
        onBalances(data && data.balances, true);
        break;
      case "position_update":
        onPositionUpdate(data);
        break;
      case "price_update_batch":
        onPriceBatch(data);
        break;
      case "balance_update":
        onBalances(data && data.balances, false);
        break;
      case "signal_execution":
        onSignalExecution(data);
        break;
      case "ping":
        send({ type: "pong" });
        break;
      case "error":
        showError(data && data.message);
        break;
      default:
        break;
    }
  }

  function armIdleTimer(ws) {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (ws === socket) {
        drop(ws);
        scheduleReconnect();
      }
    }, IDLE_LIMIT_MS);
  }

  // Forget a socket: its late events are ignored from here on.
  function drop(ws) {
    socket = null;
    clearTimeout(idleTimer);
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close();
    } catch (_error) {
      // Already closing; nothing to do.
    }
  }

  function scheduleReconnect() {
    if (stopped) {
      return;
    }
    const delay = Math.min(BACKOFF_START_MS * 2 ** attempt, BACKOFF_MAX_MS);
    attempt += 1;
    setStatus("reconnecting", "reconnecting in " + Math.round(delay / 1000) + " s");
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delay);
  }

  function connect() {
    reconnectTimer = null;
    if (stopped) {
      return;
    }
    if (attempt === 0) {
      setStatus("connecting", "connecting");
    } else {
      setStatus("reconnecting", "reconnecting");
    }
    let ws;
    try {
      ws = new WebSocket(socketUrl);
    } catch (_error) {
      scheduleReconnect();
      return;
    }
    socket = ws;
    armIdleTimer(ws);
    ws.onmessage = (event) => {
      if (ws !== socket) {
        return;
      }
      armIdleTimer(ws);
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (_error) {
        return;
      }
      if (message && typeof message.type === "string") {
        handle(message);
      }
    };
    ws.onclose = (event) => {
      if (ws !== socket) {
        return;
      }
      socket = null;
      clearTimeout(idleTimer);
      if (AUTH_CLOSE_CODES.includes(event.code)) {
        stopped = true;
        setStatus("unauthorised", "not authorised");
        return;
      }
      scheduleReconnect();
    };
    // An error is always followed by close, which decides what happens next.
    ws.onerror = () => {};
  }

  // Back online after a network drop: skip the rest of the backoff wait.
  window.addEventListener("online", () => {
    if (reconnectTimer !== null) {
      clearTimeout(reconnectTimer);
      connect();
    }
  });

  connect();
})();
