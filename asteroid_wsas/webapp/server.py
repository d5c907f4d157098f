"""Serving the page: the address checked before the model loads, the launch, and a stop
(Ctrl+C, SIGTERM) that gives back the port, the cache folder and the signal handlers."""

import errno
import os
import signal
import socket
import time
from typing import Optional

from ..signals import raise_on_stop_signals, restore_handlers
from .core import DEFAULT_MAX_MB, DEFAULT_MAX_QUERIES, Workspace, load_model
from .page import build_app


def check_address(host: str, port: int) -> None:
    """Refuse an address the server cannot listen on, before anything is loaded.

    Binds a socket (then closes it) on each address ``host`` stands for, as the server
    (uvicorn, through asyncio) binds them, and on ``127.0.0.1:port``, which Gradio checks
    first whatever the host.

    Raises:
        ValueError: One line naming ``--host`` or ``--port``: the port is in use, the host
            is not an address of this machine or not a known name, the port is reserved.

    Examples:
        >>> check_address("127.0.0.1", 0)  # any free port: fine
    """
    # Gradio strips the brackets of an IPv6 address given as in a URL
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        found = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError):
        raise ValueError(
            f"--host {host} is neither an address nor a host name this machine knows; pass "
            "--host 127.0.0.1 (this machine only) or 0.0.0.0 (every network)"
        ) from None
    places = [(family, address) for family, _, _, _, address in found]
    for family, address in places + [(socket.AF_INET, ("127.0.0.1", port))]:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # as asyncio: IPv4 is bound on its own
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as err:
                raise ValueError(_bind_error(host, port, address[0], err)) from None


def _bind_error(host: str, port: int, address: str, err: OSError) -> str:
    """The one line for a failed bind of ``address:port`` (``host`` as the user wrote it)."""
    if err.errno == errno.EADDRINUSE:
        return (
            f"--port {port} on {address} is in use (another server?); pass --port with a free port"
        )
    if err.errno == errno.EADDRNOTAVAIL:
        return (
            f"--host {host} is not an address of this machine; pass --host 127.0.0.1 (this "
            "machine only) or 0.0.0.0 (every network)"
        )
    if err.errno == errno.EACCES and port < 1024:
        return f"--port {port}: ports below 1024 need root here; pass --port 1024 or above"
    return f"cannot listen on --host {host} --port {port}: {err.strerror or err}"


def _raise_on_stop_signals() -> dict:
    """SIGTERM and SIGHUP raise :class:`Terminated` (:mod:`asteroid_wsas.signals`)."""
    return raise_on_stop_signals()


def _shutdown(
    app, workspace: Optional[Workspace], handlers: dict, gradio_dir: Optional[str]
) -> None:
    """Stop the server and remove the page's folder (Gradio's cache included), then give
    back the signal handlers and ``GRADIO_TEMP_DIR``."""
    # a second Ctrl+C or SIGTERM would stop the clean-up half-way: it takes seconds at most
    for signum in handlers:
        signal.signal(signum, signal.SIG_IGN)
    try:
        if app is not None:
            app.close(verbose=False)  # waits up to 5 s for the server's thread
        if workspace is not None:
            workspace.close()
    finally:
        if gradio_dir is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = gradio_dir
        restore_handlers(handlers)


def _launch(app, host: str, port: int, max_mb: float) -> None:
    """Start the server in its own thread; a port taken since :func:`check_address` is
    answered as that check answers it, not with Gradio's message about ``launch()``."""
    try:
        app.queue().launch(
            server_name=host,
            server_port=port,
            max_file_size=int(max_mb * 2**20),
            prevent_thread_lock=True,
            quiet=True,
            footer_links=[],
            **getattr(app, "launch_options", {}),
        )
    except OSError:
        check_address(host, port)
        raise ValueError(
            f"the server could not start on --host {host} --port {port}; pass --port with a "
            "free port"
        ) from None


def serve(
    model: str,
    host: str = "127.0.0.1",
    port: int = 7860,
    max_mb: float = DEFAULT_MAX_MB,
    max_queries: int = DEFAULT_MAX_QUERIES,
    device: Optional[str] = None,
    block: bool = True,
    encoder: Optional[str] = None,
):
    """Load ``model`` (with ``encoder`` instead of the one it names, when given: a moved
    experiment's encoder file) and serve the page on ``host:port`` (loopback by default).

    The address is checked first (:func:`check_address`). A model that fails to load does
    not stop the server: the page says why (and so does the terminal). Gradio keeps copies
    of every upload and result: they go into the page's folder (``GRADIO_TEMP_DIR`` is set
    to its ``gradio`` folder while the server runs, and stays so with ``block=False``), so
    that they go with it.

    With ``block=True`` the page is served until Ctrl+C, SIGTERM or SIGHUP; then the server
    stops, the page's folder is removed, and the ``KeyboardInterrupt`` (Ctrl+C) or
    :class:`Terminated` (the others) is raised again. With ``block=False`` the running page
    is returned: stop it with ``app.close()``, then ``app.workspace.close()``.

    Returns:
        The launched ``gradio.Blocks`` (when ``block=False``).

    Raises:
        ValueError: The server cannot listen on ``host:port``.
        KeyboardInterrupt: Ctrl+C, once the page's files are removed.
        Terminated: SIGTERM or SIGHUP, once the page's files are removed.
    """
    check_address(host, port)
    # an IPv6 address as in a URL, as Gradio wants it (it builds its own URLs from it)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    handlers = _raise_on_stop_signals() if block else {}
    gradio_dir = os.environ.get("GRADIO_TEMP_DIR")
    app, workspace = None, None
    try:
        load_error, separator = None, None
        try:
            separator = load_model(model, device, encoder)
        except Exception as err:  # any loading failure is reported on the page
            load_error = str(err) or type(err).__name__
            print(f"error: the model could not be loaded: {load_error}")
        workspace = Workspace()
        # read when the page is built, and by some Gradio modules when first imported
        os.environ["GRADIO_TEMP_DIR"] = str(workspace.cache)
        app = build_app(
            separator,
            model_name=model,
            load_error=load_error,
            max_mb=max_mb,
            max_queries=max_queries,
            workspace=workspace,
        )
        print(f"asteroid-wsas page for {model}: http://{host}:{port} (Ctrl+C stops it)")
        print(f"temporary files: {workspace.root} (removed when the server stops)", flush=True)
        _launch(app, host, port, max_mb)
        while block and app.is_running:
            time.sleep(0.1)
    except BaseException:
        block = True  # stopped or failed: clean up here, whatever the caller asked
        raise
    finally:
        if block:
            _shutdown(app, workspace, handlers, gradio_dir)
    return app
