"""The exception the package raises for what ./darknet reports as an error."""


class DarknetError(Exception):
    """A bad cfg, a cut weights file, an unreadable image, a failed command:
    the message is the error line ./darknet prints."""


def error_line(stderr, status):
    """The line that says what went wrong: the last `darknet: error` line of
    the output, else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    if errors:
        return errors[-1]
    return lines[-1] if lines else "exit status %d" % status
