// /play: a person's client for the arena, speaking the same WebSocket protocol as every bot
// (/ws/matchmake, then /ws/reconnect with the seat's token after a reload or a dropped connection).
// The token lives in sessionStorage only: never in the page URL, never sent anywhere but /ws/reconnect.
(function () {
  "use strict";

  var root = document.getElementById("play");
  if (!root) return;

  var STORE_KEY = "hexarena.play.seat";
  var NAME_KEY = "hexarena.play.username";
  var RED = -1, BLUE = 1;
  var COLOR = { "-1": "Red", "1": "Blue" };
  var RESUME_WINDOW_MS = 30000;

  var el = {
    form: document.getElementById("play-form"),
    size: document.getElementById("play-board-size"),
    length: document.getElementById("play-series-length"),
    username: document.getElementById("play-username"),
    game: document.getElementById("game"),
    wrap: document.getElementById("board-wrap"),
    turn: document.getElementById("turn"),
    gameNumber: document.getElementById("game-number"),
    seriesInfo: document.getElementById("series-info"),
    result: document.getElementById("result"),
    resign: document.getElementById("resign"),
    again: document.getElementById("play-again"),
    chat: document.getElementById("chat"),
    chatLog: document.getElementById("chat-log"),
    chatForm: document.getElementById("chat-form"),
    chatInput: document.getElementById("chat-input"),
    events: document.getElementById("event-log"),
    status: document.getElementById("play-status")
  };

  var state = freshState();
  var ws = null;
  var boardSvg = null;
  var boardSize = 0;
  var resumeStarted = 0;
  var resumeTimer = null;

  function freshState() {
    return {
      seat: null, player: null, size: 0, seriesLength: 1, winsRequired: 1, board: null, turn: null,
      gameNumber: 0, moveCount: 0, wins: { "-1": 0, "1": 0 }, models: {}, usernames: {}, lastMove: null,
      waiting: true, paused: false, gameWinner: null, seriesWinner: null, sent: false, finished: false,
      cursor: { q: 0, r: 0 }
    };
  }

  // -- storage ---------------------------------------------------------------------------------

  function loadSeat() {
    try {
      var seat = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
      return seat && seat.slot_id && seat.token ? seat : null;
    } catch (e) { return null; }
  }
  function saveSeat(seat) { sessionStorage.setItem(STORE_KEY, JSON.stringify(seat)); }
  function forgetSeat() { sessionStorage.removeItem(STORE_KEY); }

  // -- connection ------------------------------------------------------------------------------

  function wsUrl(path, params) {
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + location.host + path + "?" + new URLSearchParams(params).toString();
  }

  function setStatus(live, text) {
    el.status.dataset.live = live;
    el.status.querySelector(".live-text").textContent = text;
  }

  function open(url, what) {
    if (ws) { ws.onclose = null; ws.close(); }
    setStatus("connecting", what);
    ws = new WebSocket(url);
    ws.onopen = function () { setStatus("on", "Connected"); };
    ws.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message && typeof message.type === "string") handle(message.type, message.payload || {});
    };
    ws.onclose = function (event) { closed(event); };
  }

  function send(type, payload) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: type, payload: payload || {} }));
      return true;
    }
    return false;
  }

  function startMatch(event) {
    if (event) event.preventDefault();
    var username = el.username.value.trim();
    try { localStorage.setItem(NAME_KEY, username); } catch (e) { /* private mode */ }
    state = freshState();
    forgetSeat();
    clearLog(el.chatLog);
    showResult(null);
    var params = { board_size: el.size.value, series_length: el.length.value, model_name: "human" };
    if (username) params.username = username;
    log("Looking for an opponent on " + params.board_size + "×" + params.board_size + ", best of " +
        params.series_length + "…");
    open(wsUrl("/ws/matchmake", params), "Connecting…");
  }

  function resume(seat) {
    state.seat = seat;
    if (!resumeStarted) resumeStarted = Date.now();
    open(wsUrl("/ws/reconnect", { slot_id: seat.slot_id, token: seat.token }), "Resuming your seat…");
  }

  function closed(event) {
    ws = null;
    if (state.finished || !state.seat) {
      setStatus("off", "Not connected");
      return;
    }
    // Dropped while seated (network, server restart): come back through /ws/reconnect with backoff.
    if (!resumeStarted) resumeStarted = Date.now();
    var elapsed = Date.now() - resumeStarted;
    if (elapsed > RESUME_WINDOW_MS || event.code === 1008 || event.code === 1000) {
      setStatus("off", "Disconnected");
      if (event.code !== 1000 && event.code !== 1008) log("Could not get back to the game.");
      endSeat();
      return;
    }
    var delay = Math.min(4000, 250 * Math.pow(2, Math.floor(elapsed / 2000)));
    setStatus("connecting", "Connection lost, resuming…");
    clearTimeout(resumeTimer);
    resumeTimer = setTimeout(function () { resume(state.seat); }, delay);
  }

  function endSeat() {
    state.finished = true;
    forgetSeat();
    el.form.hidden = false;
    el.again.hidden = false;
    el.resign.hidden = true;
    render();
  }

  // -- messages --------------------------------------------------------------------------------

  function handle(type, p) {
    switch (type) {
      case "joined":
      case "slot_kept":
        resumeStarted = 0;
        state.player = p.player;
        state.seat = { slot_id: p.slot_id, token: p.reconnect_token, player: p.player };
        saveSeat(state.seat);
        state.seriesLength = p.series_length;
        state.winsRequired = Math.floor(p.series_length / 2) + 1;
        state.waiting = true;
        showGame(p.board_size);
        log("Seated in slot " + p.slot_id + " as " + COLOR[p.player] + ".");
        break;
      case "waiting_for_opponent":
        if (state.board && state.seriesWinner === null && state.gameNumber > 0 && !state.waiting) {
          state.paused = true;
          log("Your opponent is away; the game is paused.");
        } else {
          state.waiting = true;
          log("Waiting for an opponent…");
        }
        break;
      case "game_start":
        state.board = emptyBoard(p.board_size);
        state.turn = p.first_turn;
        state.gameNumber = p.current_game_number;
        state.moveCount = 0;
        state.wins = { "-1": p.player_1_wins, "1": p.player_2_wins };
        state.winsRequired = p.wins_required;
        state.seriesLength = p.series_length;
        state.models = p.player_models || {};
        state.usernames = p.player_usernames || {};
        state.lastMove = null;
        state.waiting = false;
        state.paused = false;
        state.gameWinner = null;
        state.sent = false;
        showResult(null);
        el.chat.hidden = false;
        showGame(p.board_size);
        log("Game " + p.current_game_number + " started; " + COLOR[p.first_turn] + " moves first.");
        break;
      case "move":
        if (state.board && inBoard(p.q, p.r)) {
          state.board[p.r][p.q] = p.player;
          state.lastMove = { q: p.q, r: p.r };
          state.moveCount += 1;
        }
        state.turn = p.next_turn;
        if (p.player === state.player) state.sent = false;
        break;
      case "move_rejected":
        state.sent = false;
        log("Move rejected: " + p.reason);
        break;
      case "game_over":
        state.gameWinner = p.winner;
        state.turn = null;
        log("Game " + state.gameNumber + ": " + COLOR[p.winner] + " wins" +
            (p.reason === "resignation" ? " by resignation." : "."));
        showResult((p.winner === state.player ? "You won game " : "You lost game ") + state.gameNumber + ".");
        break;
      case "series_update":
        state.wins = { "-1": p.player_1_wins, "1": p.player_2_wins };
        break;
      case "series_over":
        state.wins = { "-1": p.player_1_wins, "1": p.player_2_wins };
        state.seriesWinner = p.winner;
        state.turn = null;
        var score = p.player_1_wins + "–" + p.player_2_wins;
        showResult((p.winner === state.player ? "You won the series " : "You lost the series ") + score + ".");
        log("Series over: " + COLOR[p.winner] + " wins " + score + ".");
        endSeat();
        break;
      case "reconnected":
        resumeStarted = 0;
        applySnapshot(p);
        log("Back in slot " + p.slot_id + " as " + COLOR[p.player] + ".");
        break;
      case "opponent_disconnected":
        if (p.reason === "reconnect_timeout") {
          log("Your opponent did not come back.");
          showResult("Your opponent left the game.");
          endSeat();
        } else if (!state.waiting) {
          state.paused = true;
          log("Your opponent disconnected; waiting up to " + p.reconnect_timeout_seconds + " s for them.");
        }
        break;
      case "opponent_reconnected":
        state.paused = false;
        log("Your opponent is back.");
        break;
      case "opponent_left_slot":
        if (!state.finished) {
          log(p.message || "Your opponent left.");
          endSeat();
        }
        break;
      case "chat":
        chatLine(COLOR[p.player] === undefined ? "Opponent" : COLOR[p.player], p.message, false);
        break;
      case "error":
        log("Server: " + p.message);
        if (!state.player || /reconnect/i.test(p.message || "")) {
          // Refused before being seated (no slot, too many connections) or the seat is gone.
          state.seat = null;
          forgetSeat();
          el.form.hidden = false;
          showResult(p.message);
        }
        break;
      default:
        break;  // pong, hello and anything newer: nothing to show
    }
    render();
  }

  function applySnapshot(p) {
    var slot = p.slot || {};
    state.player = p.player;
    state.seriesLength = p.series_length;
    state.seat = loadSeat() || state.seat;
    showGame(p.board_size);
    if (slot.board) {
      state.board = slot.board.map(function (row) { return row.map(function (c) { return c || 0; }); });
      state.waiting = false;
    } else {
      state.board = null;
      state.waiting = true;
    }
    state.turn = slot.current_turn;
    state.moveCount = slot.move_count || 0;
    state.gameNumber = slot.current_game_number || 0;
    state.wins = { "-1": slot.player_1_wins || 0, "1": slot.player_2_wins || 0 };
    state.winsRequired = slot.wins_required || state.winsRequired;
    state.models = slot.player_models || {};
    state.usernames = slot.player_usernames || {};
    state.gameWinner = slot.winner === undefined ? null : slot.winner;
    state.seriesWinner = slot.series_winner === undefined ? null : slot.series_winner;
    state.lastMove = null;
    state.sent = false;
    state.paused = (slot.disconnected_players || []).indexOf(-p.player) !== -1;
    if (!state.waiting) el.chat.hidden = false;
  }

  // -- board -----------------------------------------------------------------------------------

  function emptyBoard(size) {
    var rows = [];
    for (var r = 0; r < size; r++) { var row = []; for (var q = 0; q < size; q++) row.push(0); rows.push(row); }
    return rows;
  }

  function inBoard(q, r) { return q >= 0 && r >= 0 && q < boardSize && r < boardSize; }

  function showGame(size) {
    el.form.hidden = true;
    el.game.hidden = false;
    el.again.hidden = true;
    el.resign.hidden = false;
    if (size && size !== boardSize) loadBoard(size);
  }

  function loadBoard(size) {
    boardSize = size;
    boardSvg = null;
    state.cursor = { q: Math.floor(size / 2), r: Math.floor(size / 2) };
    fetch(root.dataset.boardUrl.replace(/\d+$/, String(size)))
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (boardSize !== size) return;
        el.wrap.innerHTML = html;
        boardSvg = el.wrap.querySelector("svg");
        render();
      });
  }

  function myTurn() {
    return !!state.board && !state.waiting && !state.paused && !state.finished && state.gameWinner === null &&
      state.seriesWinner === null && state.player !== null && state.turn === state.player;
  }

  function play(q, r) {
    if (!myTurn() || state.sent || !inBoard(q, r) || state.board[r][q] !== 0) return;
    if (send("move", { q: q, r: r })) {
      state.sent = true;
      render();
    }
  }

  function cellAt(q, r) {
    return boardSvg && boardSvg.querySelector('polygon[data-q="' + q + '"][data-r="' + r + '"]');
  }

  function place(circle, cell) {
    if (!circle) return;
    if (!cell) { circle.setAttribute("visibility", "hidden"); return; }
    circle.setAttribute("cx", cell.dataset.cx);
    circle.setAttribute("cy", cell.dataset.cy);
    circle.setAttribute("visibility", "visible");
  }

  function render() {
    var mine = myTurn();
    if (boardSvg) {
      var cells = boardSvg.querySelectorAll("polygon.cell");
      for (var i = 0; i < cells.length; i++) {
        var cell = cells[i];
        var q = +cell.dataset.q, r = +cell.dataset.r;
        var stone = state.board ? state.board[r][q] : 0;
        var cls = "cell " + (stone === RED ? "cell-red" : stone === BLUE ? "cell-blue" : "cell-empty");
        if (mine && stone === 0 && !state.sent) cls += " cell-playable";
        cell.setAttribute("class", cls);
      }
      boardSvg.classList.toggle("is-my-turn", mine);
      place(boardSvg.querySelector(".last-move"), state.lastMove && cellAt(state.lastMove.q, state.lastMove.r));
      var focused = document.activeElement === el.wrap;
      place(boardSvg.querySelector(".cursor"), focused ? cellAt(state.cursor.q, state.cursor.r) : null);
      var under = state.board ? state.board[state.cursor.r][state.cursor.q] : 0;
      el.wrap.setAttribute("aria-label", "Board, ring at q=" + state.cursor.q + " r=" + state.cursor.r + " (" +
        (under === RED ? "red" : under === BLUE ? "blue" : "empty") + ")");
    }
    [RED, BLUE].forEach(function (player) {
      var key = String(player);
      var name = state.models[key] || COLOR[key];
      if (state.usernames[key]) name += " · " + state.usernames[key];
      setText("name-" + key, name);
      setText("you-" + key, player === state.player ? " · you" : "");
      setText("wins-" + key, String(state.wins[key] || 0));
      var item = el.game.querySelector('.player[data-player="' + key + '"]');
      item.classList.toggle("is-to-move", state.turn === player && state.gameWinner === null);
      item.classList.toggle("is-you", player === state.player);
    });
    el.turn.textContent = turnText(mine);
    el.turn.dataset.mine = mine ? "1" : "0";
    el.gameNumber.textContent = state.gameNumber ? "Game " + state.gameNumber + " ·" : "";
    el.seriesInfo.textContent = "best of " + state.seriesLength + " (first to " + state.winsRequired + ")";
  }

  function turnText(mine) {
    if (state.seriesWinner !== null) return "Series over";
    if (state.waiting) return "Waiting for an opponent…";
    if (state.paused) return "Opponent away: game paused";
    if (state.gameWinner !== null) return COLOR[state.gameWinner] + " won this game";
    if (mine) return state.sent ? "Sending your move…" : "Your turn (" + COLOR[state.player] + ")";
    if (state.turn !== null && state.turn !== undefined) return "Opponent's turn (" + COLOR[state.turn] + ")";
    return "";
  }

  function setText(field, text) {
    var node = el.game.querySelector('[data-field="' + field + '"]');
    if (node) node.textContent = text;
  }

  function showResult(text) {
    el.result.hidden = !text;
    el.result.textContent = text || "";
  }

  // -- logs ------------------------------------------------------------------------------------

  function appendCapped(list, item) {
    list.appendChild(item);
    while (list.children.length > 60) list.removeChild(list.firstChild);
    list.scrollTop = list.scrollHeight;
  }

  function log(text) {
    var li = document.createElement("li");
    li.textContent = text;
    appendCapped(el.events, li);
  }

  function clearLog(list) { while (list.firstChild) list.removeChild(list.firstChild); }

  function chatLine(who, text, mine) {
    var li = document.createElement("li");
    li.className = mine ? "chat-mine" : "chat-theirs";
    var name = document.createElement("strong");
    name.textContent = who + ": ";
    li.appendChild(name);
    li.appendChild(document.createTextNode(String(text)));
    appendCapped(el.chatLog, li);
  }

  // -- input -----------------------------------------------------------------------------------

  el.wrap.addEventListener("click", function (event) {
    var cell = event.target.closest && event.target.closest("polygon.cell");
    if (!cell) return;
    state.cursor = { q: +cell.dataset.q, r: +cell.dataset.r };
    play(state.cursor.q, state.cursor.r);
  });

  var MOVES = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  el.wrap.addEventListener("keydown", function (event) {
    if (!boardSize) return;
    var step = MOVES[event.key];
    if (step) {
      event.preventDefault();
      state.cursor = {
        q: Math.max(0, Math.min(boardSize - 1, state.cursor.q + step[0])),
        r: Math.max(0, Math.min(boardSize - 1, state.cursor.r + step[1]))
      };
      render();
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      play(state.cursor.q, state.cursor.r);
    }
  });
  el.wrap.addEventListener("focus", render);
  el.wrap.addEventListener("blur", render);

  el.form.addEventListener("submit", startMatch);
  el.again.addEventListener("click", function () {
    el.game.hidden = true;
    el.form.hidden = false;
    showResult(null);
    el.size.focus();
  });

  var resignArmed = null;
  el.resign.addEventListener("click", function () {
    if (!resignArmed) {
      el.resign.textContent = "Click again to resign";
      resignArmed = setTimeout(function () { resignArmed = null; el.resign.textContent = "Resign this game"; }, 3000);
      return;
    }
    clearTimeout(resignArmed);
    resignArmed = null;
    el.resign.textContent = "Resign this game";
    send("resign");
  });

  el.chatForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = el.chatInput.value.trim();
    if (!text) return;
    if (send("chat", { message: text })) {
      chatLine("You", text, true);
      el.chatInput.value = "";
    }
  });

  // -- start -----------------------------------------------------------------------------------

  try { el.username.value = localStorage.getItem(NAME_KEY) || ""; } catch (e) { /* private mode */ }
  var stored = loadSeat();
  if (stored) {
    el.form.hidden = true;
    log("Resuming your game in slot " + stored.slot_id + "…");
    resume(stored);
  }
})();
