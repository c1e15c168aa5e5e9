"""The ``hexgame`` console command against a real daphne server.

Clients run as subprocesses of the installed command, exactly as a user
starts them; a small TCP proxy between a client and the server cuts the
connection mid-game to exercise the reconnect path.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from websockets.sync.client import connect

from clients.replay import read_replay
from tests.support.live import ROOT, free_port

pytestmark = pytest.mark.e2e

CLIENT_TIMEOUT = 180


def hexgame_command() -> list[str]:
    script = Path(sys.executable).parent / "hexgame"
    return [str(script)] if script.exists() else [sys.executable, "-m", "clients.cli"]


def start_client(args: list[str], cwd: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(extra_env or {})}
    env.pop("HEX_SERVER_URL", None)
    return subprocess.Popen(hexgame_command() + args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=CLIENT_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"client did not finish:\nstdout:\n{out}\nstderr:\n{err}")
    return process.returncode, out, err


def series_score(records: list[dict]) -> tuple[int | None, int, int]:
    terminal = records[-1]
    assert terminal["event"] == "terminal", terminal
    return terminal.get("winner"), terminal.get("player_1_wins", 0), terminal.get("player_2_wins", 0)


# -- a complete series -------------------------------------------------------------------------


def test_random_and_model_clients_play_a_best_of_three_to_the_end(daphne_server, tmp_path: Path) -> None:
    common = ["--server", daphne_server.ws_url, "--board-size", "7", "--series-length", "3", "--move-delay", "0"]
    randomer = start_client(["random", "--seed", "1", *common], tmp_path)
    model = start_client(["play", "--model-name", "model_first", "--username", "e2e", "--replay-log", "auto",
                          *common], tmp_path)
    random_code, random_out, random_err = finish(randomer)
    model_code, model_out, model_err = finish(model)
    assert (random_code, model_code) == (0, 0), (random_err, model_err)
    assert random_err == "" and model_err == ""
    # Both saw the same end of the same series.
    assert "series over" in random_out.splitlines()[-1]
    assert random_out.splitlines()[-1] == model_out.splitlines()[-1]

    logs = list((tmp_path / "replays").glob("*model_first*.jsonl"))
    assert len(logs) == 1
    records = read_replay(logs[0])
    winner, red_wins, blue_wins = series_score(records)
    assert winner in (-1, 1)
    assert max(red_wins, blue_wins) == 2 and min(red_wins, blue_wins) <= 1
    assert (red_wins > blue_wins) == (winner == -1)
    games = {r["message"]["payload"]["current_game_number"] for r in records
             if r["event"] == "server_message" and r["message"]["type"] == "game_start"}
    assert games == set(range(1, red_wins + blue_wins + 1))
    # Only our random client made no replay log (its default is off).
    assert len(list((tmp_path / "replays").iterdir())) == 1


def test_gui_client_plays_a_series_headless(daphne_server, tmp_path: Path) -> None:
    common = ["--server", daphne_server.ws_url, "--board-size", "7", "--series-length", "1", "--move-delay", "0"]
    randomer = start_client(["random", "--seed", "3", *common], tmp_path)
    window = start_client(["gui", "--model-name", "model_first", "--close-when-done", "--match-delay", "0",
                           "--replay-log", "gui.jsonl", *common], tmp_path, {"SDL_VIDEODRIVER": "dummy"})
    assert finish(randomer)[0] == 0
    code, out, err = finish(window)
    assert code == 0, err
    assert series_score(read_replay(tmp_path / "gui.jsonl"))[0] in (-1, 1)


# -- surviving a dropped connection ------------------------------------------------------------


class DroppingProxy:
    """Forwards TCP to the server; cuts the first connection (both directions,
    no WebSocket close frame) once the server has sent it ``drop_after`` bytes.
    With ``tls`` it terminates TLS in front of the plain server."""

    def __init__(self, upstream_port: int, drop_after: int | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.upstream_port = upstream_port
        self.drop_after = drop_after
        listener = socket.create_server(("127.0.0.1", 0))
        self.listener = tls.wrap_socket(listener, server_side=True) if tls is not None else listener
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.dropped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except ssl.SSLError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.connections += 1
            first = self.connections == 1
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, first), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, cut: bool) -> None:
        sent = 0
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                sent += len(data)
                if cut and self.drop_after is not None and sent >= self.drop_after:
                    self.dropped.set()
                    break
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self.listener.close()


def test_client_resumes_after_its_connection_is_cut_mid_game(live_server_factory, tmp_path: Path) -> None:
    server = live_server_factory(env={"HEX_RECONNECT_TIMEOUT": "20"})
    # About 1.2 kB reaches the client before the cut: joined, game_start and
    # some ten moves of game 1, which needs at least 13 moves on 7x7.
    proxy = DroppingProxy(server.port, drop_after=1200)
    common = ["--board-size", "7", "--series-length", "3", "--move-delay", "0.02"]
    try:
        resumer = start_client(["play", "--model-name", "model_random", "--seed", "7", "--replay-log", "cut.jsonl",
                                "--server", f"ws://127.0.0.1:{proxy.port}", *common], tmp_path)
        opponent = start_client(["random", "--seed", "8", "--server", server.ws_url, *common], tmp_path)
        resumer_code, resumer_out, resumer_err = finish(resumer)
        opponent_code, opponent_out, opponent_err = finish(opponent)
    finally:
        proxy.close()
    assert proxy.dropped.is_set()
    assert proxy.connections >= 2
    assert (resumer_code, opponent_code) == (0, 0), (resumer_err, opponent_err)
    assert "connection lost" in resumer_out and "resumed slot" in resumer_out
    assert "opponent disconnected" in opponent_out and "opponent reconnected" in opponent_out

    records = read_replay(tmp_path / "cut.jsonl")
    assert any(r["event"] == "connection" and r["state"] == "reconnected" for r in records)
    types = [r["message"]["type"] for r in records if r["event"] == "server_message"]
    resumed_at = types.index("reconnected")
    # The cut came mid-game (game 1 needs at least 13 moves, ~1.5 kB): moves before, the rest after.
    assert "game_start" in types[:resumed_at] and "series_over" not in types[:resumed_at]
    assert types[resumed_at - 1] == "move"
    assert types[-1] == "series_over"
    winner, red_wins, blue_wins = series_score(records)
    assert max(red_wins, blue_wins) == 2
    assert opponent_out.splitlines()[-1] == resumer_out.splitlines()[-1]


def test_clients_resume_after_the_server_restarts(live_server_factory, tmp_path: Path) -> None:
    server = live_server_factory(env={"HEX_RECONNECT_TIMEOUT": "60"})
    common = ["--server", server.ws_url, "--board-size", "9", "--series-length", "3", "--move-delay", "0.05",
              "--reconnect-window", "60"]
    first = start_client(["play", "--model-name", "model_first", "--replay-log", "first.jsonl", *common], tmp_path)
    second = start_client(["random", "--seed", "4", *common], tmp_path)
    log = tmp_path / "first.jsonl"

    def moves_seen() -> int:
        if not log.exists():
            return 0
        return sum(1 for line in log.read_text().splitlines() if '"event":"move_applied"' in line)

    deadline_moves = 6
    for _ in range(600):
        if moves_seen() >= deadline_moves or first.poll() is not None:
            break
        threading.Event().wait(0.05)
    assert first.poll() is None, "series ended before the restart"
    server.kill()
    server.start()
    first_code, first_out, first_err = finish(first)
    second_code, _, second_err = finish(second)
    assert (first_code, second_code) == (0, 0), (first_err, second_err)
    assert "resumed slot" in first_out
    records = read_replay(log)
    assert any(r["event"] == "connection" and r["state"] == "reconnected" for r in records)
    assert series_score(records)[0] in (-1, 1)


# -- errors a person can act on ----------------------------------------------------------------


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_parameters_refused_by_the_server_exit_non_zero(daphne_server, tmp_path: Path) -> None:
    code, _, err = finish(start_client(["random", "--server", daphne_server.ws_url, "--board-size", "8"], tmp_path))
    assert code == 3
    assert "Unsupported board size" in one_line(err)
    code, _, err = finish(start_client(["play", "--server", daphne_server.ws_url, "--series-length", "2",
                                        "--replay-log", "off"], tmp_path))
    assert code == 3
    assert "Unsupported series length" in one_line(err)


def test_unreachable_server_exits_non_zero(tmp_path: Path) -> None:
    port = free_port()
    code, _, err = finish(start_client(["play", "--server", f"ws://127.0.0.1:{port}", "--replay-log", "off"],
                                       tmp_path))
    assert code == 4
    assert f"cannot reach server at ws://127.0.0.1:{port}" in one_line(err)


def test_no_free_slot_exits_non_zero(live_server_factory, tmp_path: Path) -> None:
    # The per-IP limit defaults to the slot count; lift it so the slot pool is what runs out.
    server = live_server_factory(env={"HEX_MAX_SLOTS": "1", "HEX_MAX_CONNECTIONS_PER_IP": "10"})
    with connect(f"{server.ws_url}/ws/matchmake?board_size=7&series_length=1") as holder:
        assert json.loads(holder.recv(timeout=10))["type"] == "joined"
        code, _, err = finish(start_client(["random", "--server", server.ws_url, "--board-size", "9"], tmp_path))
    assert code == 3
    assert "no free slot" in one_line(err)


def test_opponent_who_never_comes_back_ends_the_client(live_server_factory, tmp_path: Path) -> None:
    server = live_server_factory(env={"HEX_RECONNECT_TIMEOUT": "1"})
    with connect(f"{server.ws_url}/ws/matchmake?board_size=7&series_length=1") as leaver:
        assert json.loads(leaver.recv(timeout=10))["type"] == "joined"
        # The client plays second (blue) and red never moves: the game is on when red vanishes.
        client = start_client(["play", "--model-name", "model_first", "--server", server.ws_url, "--board-size", "7",
                               "--replay-log", "left.jsonl"], tmp_path)
        while json.loads(leaver.recv(timeout=30))["type"] != "game_start":
            pass
    code, out, err = finish(client)
    assert code == 5
    assert "opponent left" in one_line(err)
    assert "opponent disconnected" in out
    assert read_replay(tmp_path / "left.jsonl")[-1]["outcome"] == "opponent_left"


# -- keeping a slot, joining a slot ------------------------------------------------------------


def test_keep_slot_hosts_a_second_series_joined_by_slot_id(daphne_server, tmp_path: Path) -> None:
    common = ["--server", daphne_server.ws_url, "--move-delay", "0"]
    keeper = start_client(["play", "--model-name", "model_first", "--board-size", "7", "--keep-slot",
                           "--replay-log", "keeper.jsonl", *common], tmp_path)
    try:
        first = start_client(["random", "--seed", "1", "--board-size", "7", *common], tmp_path)
        assert finish(first)[0] == 0
        records = read_replay(tmp_path / "keeper.jsonl")
        slot_id = next(r["message"]["payload"]["slot_id"] for r in records
                       if r["event"] == "server_message" and r["message"]["type"] == "joined")
        # The second opponent asks for another board size: --slot-id inherits the slot's.
        second = start_client(["random", "--seed", "2", "--board-size", "11", "--slot-id", str(slot_id), *common],
                              tmp_path)
        code, out, err = finish(second)
        assert code == 0, err
        assert f"joined slot {slot_id} as blue (board 7, best of 1)" in out
    finally:
        keeper.terminate()
        keeper.communicate(timeout=30)
    types = [r["message"]["type"] for r in read_replay(tmp_path / "keeper.jsonl") if r["event"] == "server_message"]
    assert types.count("series_over") == 2
    assert types.count("slot_kept") >= 1
    assert "error" not in types


# -- TLS -------------------------------------------------------------------------------------


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost/127.0.0.1 and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                     x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_clients_play_over_wss(daphne_server, tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    proxy = DroppingProxy(daphne_server.port, tls=tls)
    # The clients verify the certificate as usual; they trust ours through SSL_CERT_FILE.
    env = {"SSL_CERT_FILE": str(cert)}
    common = ["--board-size", "7", "--move-delay", "0", "--server", f"wss://localhost:{proxy.port}"]
    try:
        first = start_client(["random", "--seed", "1", *common], tmp_path, env)
        second = start_client(["play", "--model-name", "model_first", "--replay-log", "off", *common], tmp_path, env)
        results = [finish(first), finish(second)]
        # Without trusting the certificate the connection is refused, so TLS really was in use.
        untrusted = finish(start_client(["random", *common], tmp_path, {"SSL_CERT_FILE": os.devnull}))
    finally:
        proxy.close()
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    assert all("series over" in out for _, out, _ in results)
    assert untrusted[0] == 4
    assert "CERTIFICATE_VERIFY_FAILED" in one_line(untrusted[2])
