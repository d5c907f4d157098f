"""Stop signals as exceptions: SIGTERM (a service manager's or ``kill``'s stop) and SIGHUP (a
closed terminal) stop a command the way Ctrl+C does, so that its clean-up runs (temporary
``.part`` files removed, a page's folder deleted) instead of the process vanishing.

Light on purpose (no torch): the command line's entry point installs it for every command.

Examples:
    >>> handlers = raise_on_stop_signals()
    >>> restore_handlers(handlers)
"""

import signal
import threading
from typing import Dict

__all__ = ["Terminated", "STOP_SIGNALS", "raise_on_stop_signals", "restore_handlers"]

# what stops a command besides Ctrl+C: a service manager's stop, a closed terminal
STOP_SIGNALS = ("SIGTERM", "SIGHUP")


class Terminated(KeyboardInterrupt):
    """A stop signal (SIGTERM or SIGHUP), raised in the main thread: a ``KeyboardInterrupt``,
    so that everything that cleans up after Ctrl+C cleans up after it too.

    Attributes:
        name: The signal's name, e.g. ``"SIGTERM"``.
        status: The exit status a shell reports for a process the signal stops (128 + its
            number).
    """

    def __init__(self, signum: int):
        self.name = signal.Signals(signum).name
        self.status = 128 + int(signum)
        super().__init__(self.name)


def raise_on_stop_signals() -> Dict[int, object]:
    """Make SIGTERM and SIGHUP raise :class:`Terminated` in the main thread.

    A signal that is ignored stays ignored (SIGHUP under ``nohup``).

    Returns:
        dict: the handlers SIGINT and the stop signals had (for :func:`restore_handlers`);
        empty outside the main thread, where Python cannot set one.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}

    def stop(signum, frame):
        raise Terminated(signum)

    handlers = {signal.SIGINT: signal.getsignal(signal.SIGINT)}
    if handlers[signal.SIGINT] is None:  # not set from Python: it could not be given back
        del handlers[signal.SIGINT]
    for name in STOP_SIGNALS:
        signum = getattr(signal, name, None)  # Windows has no SIGHUP
        if signum is not None and signal.getsignal(signum) is not signal.SIG_IGN:
            # None: set outside Python; the default is the nearest that can be given back
            handlers[signum] = signal.signal(signum, stop) or signal.SIG_DFL
    return handlers


def restore_handlers(handlers: Dict[int, object]) -> None:
    """Give back the handlers :func:`raise_on_stop_signals` returned."""
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
