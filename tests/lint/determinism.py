#!/usr/bin/env python3
"""Determinism lint: system/ reaches the OS only through system/io/io_posix.c.

Usage: determinism.py [ROOT]          scan ROOT/system (ROOT defaults to the repo root)
       determinism.py --self-test     run against tests/lint/fixtures and check the findings

Why: the same system/ code runs inside the simulator, where time, randomness, the network,
files and memory belong to the simulated world. A direct call to clock_gettime, rand,
socket, open, malloc, pthread_create or sleep would make a run depend on the host (and
break seed replay), and memory not taken from io_alloc would survive a simulated crash.
Several brokers live in one process, so mutable file-scope or function-static variables
would leak state between nodes.

It fails (exit 1), printing file:line: reason, when a file under system/
  1. other than system/io/io_posix.c and system/programs/ calls one of BANNED (member calls such as
     x->free( or io->vtable->free( and prefixed names such as io_free( are fine; comments
     and string literals are ignored; system/base/base.c may print and abort);
  2. declares a non-const variable at file scope or a static one inside a function
     (io_posix.c included).
system/programs/ holds the thin mains of the real-world programs (triald, trialctl): they
never run inside the simulator and are one per process, so reading their config file,
printing, and a signal flag are theirs to do; neither check applies to them.
A line may opt out with a comment `determinism-lint: allow <reason>`; the reason is
required so that a reviewer sees why.
"""
import os
import re
import sys

BANNED = {
    # Clocks and sleeping.
    "time", "clock", "clock_gettime", "gettimeofday", "timespec_get", "ftime",
    "sleep", "usleep", "nanosleep", "clock_nanosleep",
    # Randomness.
    "rand", "rand_r", "srand", "random", "srandom", "drand48", "erand48", "lrand48",
    "nrand48", "mrand48", "jrand48", "srand48", "getrandom", "getentropy", "arc4random",
    "arc4random_buf", "arc4random_uniform",
    # Sockets and polling.
    "socket", "socketpair", "bind", "listen", "accept", "accept4", "connect", "send",
    "sendto", "sendmsg", "recv", "recvfrom", "recvmsg", "shutdown", "setsockopt",
    "getsockopt", "getaddrinfo", "gethostbyname", "select", "poll", "ppoll",
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "sendfile",
    # Files.
    "open", "openat", "creat", "close", "read", "write", "pread", "pwrite", "readv",
    "writev", "lseek", "fsync", "fdatasync", "sync_file_range", "ftruncate", "truncate",
    "rename", "renameat", "unlink", "unlinkat", "mkdir", "rmdir", "opendir", "readdir",
    "closedir", "scandir", "stat", "fstat", "lstat", "fstatat", "access", "mmap",
    "munmap", "msync", "fopen", "fdopen", "freopen", "fclose", "fread", "fwrite",
    "fgets", "fputs", "fflush", "tmpfile", "mkstemp", "dup", "dup2", "pipe", "ioctl",
    "fcntl",
    # Processes, environment, signals.
    "fork", "vfork", "execv", "execve", "execvp", "execl", "execlp", "system", "popen",
    "getenv", "setenv", "signal", "sigaction", "raise", "kill", "exit", "_exit", "abort",
    "getpid",
    # Output that bypasses io_log.
    "printf", "fprintf", "vprintf", "vfprintf", "puts", "putchar", "fputc", "perror",
    # The allocator.
    "malloc", "calloc", "realloc", "free", "aligned_alloc", "posix_memalign", "memalign",
    "valloc", "strdup", "strndup", "asprintf", "vasprintf", "alloca",
}
BANNED_PREFIXES = ("pthread_", "thrd_", "mtx_", "cnd_", "tss_", "atomic_")

EXEMPT_CALLS = {"system/io/io_posix.c"}
# Real-world program mains: exempt from both checks (see the module docstring).
EXEMPT_DIRS = ("system/programs/",)
# The assertion failure path: the io handle may be what is broken.
ALLOWED_PER_FILE = {"system/base/base.c": {"fprintf", "fflush", "abort"}}

ALLOW_MARK = re.compile(r"determinism-lint:\s*allow\s+\S")
CALL_RE = re.compile(r"(?<![\w.>$])([A-Za-z_]\w*)\s*\(")
# Keywords and constructs that look like calls.
NOT_CALLS = {"if", "for", "while", "switch", "return", "sizeof", "_Alignof", "alignof",
             "_Static_assert", "static_assert", "defined", "__attribute__", "_Generic",
             "typeof", "__typeof__", "__builtin_expect"}


def strip_code(text):
    """Blanks comments and string/char literals, keeping newlines so lines still match."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "*":
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif c == "/" and nxt == "/":
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def blank_preprocessor(code):
    """Blanks preprocessor lines (with continuations) for the declaration scan."""
    lines = code.split("\n")
    cont = False
    for k, line in enumerate(lines):
        if cont or line.lstrip().startswith("#"):
            cont = line.rstrip().endswith("\\")
            lines[k] = ""
    return "\n".join(lines)


def is_const_decl(decl):
    """True if the declared object itself is const (for pointers: const after the last *)."""
    head = decl.split("=", 1)[0]
    head = re.sub(r"\[[^\]]*\]", "", head)
    star = head.rfind("*")
    if star >= 0:
        return re.search(r"\bconst\b", head[star:]) is not None
    return re.search(r"\bconst\b", head) is not None


def squash_braces(stmt):
    """Replaces {...} groups (struct bodies, initializers) with {} for classification."""
    out, depth = [], 0
    for ch in stmt:
        if ch == "{":
            if depth == 0:
                out.append("{")
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                out.append("}")
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def classify_file_scope(stmt):
    """Returns a reason string if a file-scope statement defines a mutable variable."""
    s = " ".join(squash_braces(stmt).split())
    if not s:
        return None
    if re.match(r"^(typedef|extern|_Static_assert|static_assert)\b", s):
        return None
    # struct/union/enum definitions with no declarator.
    if re.match(r"^(struct|union|enum)\s*\w*\s*\{\}$", s):
        return None
    if re.match(r"^(struct|union|enum)\s+\w+$", s):
        return None  # Forward declaration.
    head = s.split("=", 1)[0]
    # A function prototype: the first "(" opens a parameter list, not a pointer declarator
    # "(*name)" (parameters may themselves be function pointers).
    first = head.find("(")
    if "=" not in s and first > 0 and not re.match(r"\(\s*\*", head[first:]):
        return None
    if re.search(r"\b(_Thread_local|thread_local|__thread)\b", s):
        return "thread-local variable"
    if is_const_decl(s):
        return None
    return "non-const file-scope variable"


def scan_declarations(path_rel, code, findings):
    """Walks brace depth to find file-scope and function-static variable definitions."""
    code = blank_preprocessor(code)
    depth = 0
    stmt, stmt_line = [], None
    line = 1
    in_function = False
    func_depth = 0
    local_stmt, local_line = [], None
    i, n = 0, len(code)
    while i < n:
        ch = code[i]
        if ch == "\n":
            line += 1
        if in_function:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == func_depth:
                    in_function = False
                    local_stmt = []
                    i += 1
                    continue
            if ch in ";{}":
                text = "".join(local_stmt)
                m = re.search(r"\b(static|_Thread_local|thread_local|__thread)\b", text)
                if m and ch == ";" and not is_const_decl(text[m.start():]):
                    findings.append((path_rel, local_line or line,
                                     "non-const function-static variable"))
                local_stmt, local_line = [], None
            else:
                if not local_stmt or not "".join(local_stmt).strip():
                    local_line = line
                local_stmt.append(ch)
            i += 1
            continue
        # File scope (depth counts braces of struct bodies/initializers being collected).
        if ch == "{":
            s = " ".join(squash_braces("".join(stmt)).split())
            if depth == 0 and re.search(r"\)\s*(__attribute__\s*\(\(.*\)\))?\s*$", s) \
                    and "=" not in s:
                in_function = True
                func_depth = 0
                depth = 1
                stmt, stmt_line = [], None
                i += 1
                continue
            depth += 1
            stmt.append(ch)
        elif ch == "}":
            depth -= 1
            stmt.append(ch)
        elif ch == ";" and depth == 0:
            reason = classify_file_scope("".join(stmt))
            if reason:
                findings.append((path_rel, stmt_line or line, reason))
            stmt, stmt_line = [], None
        else:
            if stmt_line is None and not ch.isspace():
                stmt_line = line
            stmt.append(ch)
        i += 1


def scan_calls(path_rel, raw_lines, code, findings):
    allowed = ALLOWED_PER_FILE.get(path_rel, set())
    for lineno, text in enumerate(code.split("\n"), start=1):
        raw = raw_lines[lineno - 1] if lineno - 1 < len(raw_lines) else ""
        if ALLOW_MARK.search(raw):
            continue
        for m in CALL_RE.finditer(text):
            name = m.group(1)
            if name in NOT_CALLS or name in allowed:
                continue
            if name in BANNED or name.startswith(BANNED_PREFIXES):
                findings.append((path_rel, lineno,
                                 f"direct call to {name}() — go through the io handle"))


def lint(root):
    findings = []
    system = os.path.join(root, "system")
    files = []
    for dirpath, dirnames, filenames in os.walk(system):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith((".c", ".h")):
                files.append(os.path.join(dirpath, name))
    for path in files:
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        if rel.startswith(EXEMPT_DIRS):
            continue
        with open(path, encoding="utf-8", errors="replace") as fh:
            raw = fh.read()
        code = strip_code(raw)
        if rel not in EXEMPT_CALLS:
            scan_calls(rel, raw.split("\n"), code, findings)
        scan_declarations(rel, code, findings)
    findings.sort()
    return files, findings


def self_test(here):
    """The fixtures: bad/ must yield exactly the expected findings, good/ none."""
    ok = True
    with open(os.path.join(here, "fixtures", "expected.txt"), encoding="utf-8") as fh:
        expected = [l.rstrip("\n") for l in fh if l.strip() and not l.startswith("#")]
    _, bad = lint(os.path.join(here, "fixtures", "bad"))
    got = [f"{p}:{l}: {r}" for p, l, r in bad]
    if sorted(got) != sorted(expected):
        ok = False
        print("self-test: findings in fixtures/bad differ from fixtures/expected.txt")
        for line in sorted(set(expected) - set(got)):
            print("  missed:     " + line)
        for line in sorted(set(got) - set(expected)):
            print("  unexpected: " + line)
    files, good = lint(os.path.join(here, "fixtures", "good"))
    if good or not files:
        ok = False
        print("self-test: fixtures/good must scan files and find nothing, found:")
        for p, l, r in good:
            print(f"  {p}:{l}: {r}")
    print("determinism lint self-test: " + ("ok" if ok else "FAILED")
          + f" ({len(got)} findings in bad/, {len(good)} in good/)")
    return 0 if ok else 1


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    if len(argv) > 1 and argv[1] == "--self-test":
        return self_test(here)
    root = argv[1] if len(argv) > 1 else os.path.dirname(os.path.dirname(here))
    files, findings = lint(root)
    for p, l, r in findings:
        print(f"{p}:{l}: {r}")
    if findings:
        print(f"determinism lint: {len(findings)} finding(s) in {len(files)} files under "
              f"{os.path.join(root, 'system')}")
        return 1
    print(f"determinism lint: ok ({len(files)} files under {os.path.join(root, 'system')})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
