"""Integrity flags: a static scan of a student's own code for things an honest answer never needs.

The scan reads the student's cells (the solution cells and the extra code cells of the canonical notebook
the grader built, ``report["canonical"]``) with Python's ``ast``; nothing runs. A flag never changes a score:
the grader decides every verdict outside the student's process whatever the code does. Flags only tell an
instructor which submissions to read. Categories:

- ``patch``: assigns or deletes attributes of numpy, the test helpers, sys, builtins or any imported module,
  setattr/delattr on a module, edits sys.modules or __builtins__, monkeypatches IPython (get_ipython()'s
  events, transformers, exception hooks) or uses unittest.mock's patch;
- ``files``: opens, loads or lists a path outside the submission's folder (absolute, '..', '~', /proc);
  a relative path such as np.load("data/x.npz") is fine;
- ``process``: talks to the grader's channel or the process: raw file descriptors (os.write, os.fdopen,
  os.dup2, ...), /proc/self, os.kill, os._exit, os.fork, signal, ctypes, socket, subprocess, shell escapes;
- ``introspection``: walks frames or the garbage collector (sys._getframe, inspect.stack, gc.get_objects,
  f_back / f_globals, __subclasses__);
- ``unparsable``: the code does not parse (listed, not an error: the cell fails in the grader as well).

``scan_report(report)`` / ``scan_notebook(nb)`` return a list of Flag; ``scan_source(code)`` scans one cell.
"""
import ast
import re
from dataclasses import asdict, dataclass

from . import notebook as nbk

CATEGORIES = {
    "patch": "patches numpy, the test helpers or the kernel",
    "files": "reads files outside its folder",
    "process": "talks to the grader's channel or the process",
    "introspection": "walks frames or the garbage collector",
    "unparsable": "could not be parsed",
}

# names that refer to a module even when the cell that imported them is not the student's (the setup cell)
DEFAULT_MODULES = {"np": "numpy", "numpy": "numpy", "testing": "utils.testing", "utils": "utils", "sys": "sys",
                   "os": "os", "builtins": "builtins", "IPython": "IPython", "math": "math", "scipy": "scipy",
                   "gc": "gc", "inspect": "inspect", "signal": "signal", "glob": "glob", "pathlib": "pathlib",
                   "shutil": "shutil", "io": "io"}
# packages whose ``from P import name`` binds a module (utils.testing, numpy.testing, ...)
MODULE_PACKAGES = {"utils", "numpy", "scipy", "IPython", "os", "importlib", "unittest", "urllib", "http"}

PROCESS_MODULES = {"ctypes", "socket", "subprocess", "signal", "multiprocessing", "pty", "fcntl", "resource",
                   "mmap", "http", "urllib", "requests", "ssl", "asyncio", "telnetlib", "ftplib", "smtplib",
                   "_thread", "_posixsubprocess"}
PROCESS_CALLS = {f"os.{n}" for n in (
    "write", "read", "fdopen", "dup", "dup2", "close", "closerange", "pipe", "kill", "killpg", "_exit", "abort",
    "fork", "forkpty", "system", "popen", "setsid", "setpgid", "getppid", "openpty", "posix_spawn", "posix_spawnp",
    "execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe", "spawnv", "spawnve", "spawnl",
    "spawnle", "sendfile", "splice", "set_blocking", "set_inheritable", "pidfd_open")}
INTROSPECTION_CALLS = {"sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile",
                       "inspect.stack", "inspect.currentframe", "inspect.getouterframes", "inspect.getinnerframes",
                       "inspect.trace", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
                       "traceback.walk_stack", "traceback.extract_stack", "traceback.print_stack",
                       "threading.settrace", "threading.setprofile"}
INTROSPECTION_ATTRS = {"f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "gi_frame", "cr_frame",
                       "__subclasses__"}
# calls whose path arguments are checked (besides open and any call of pathlib.Path)
FILE_CALLS = {"open", "io.open", "os.open", "os.listdir", "os.scandir", "os.walk", "os.stat", "os.lstat",
              "os.readlink", "os.chdir", "os.remove", "os.unlink", "os.rename", "os.replace", "os.symlink",
              "os.link", "os.path.exists", "os.path.isfile", "os.path.isdir", "os.path.getsize", "os.access",
              "glob.glob", "glob.iglob", "shutil.copy", "shutil.copyfile", "shutil.copy2", "shutil.copytree",
              "shutil.rmtree", "shutil.move", "numpy.load", "numpy.loadtxt", "numpy.genfromtxt", "numpy.fromfile",
              "numpy.memmap", "numpy.save", "numpy.savez", "numpy.savetxt", "pathlib.Path", "pathlib.PurePath",
              "pathlib.PosixPath", "json.load", "pickle.load", "tokenize.open", "codecs.open", "linecache.getline",
              "linecache.getlines", "builtins.open"}
IPYTHON_HOOKS = {"events", "input_transformers_post", "input_transformers_cleanup", "ast_transformers",
                 "set_custom_exc", "showtraceback", "showsyntaxerror", "set_hook", "register_magic_function",
                 "run_cell", "run_ast_nodes", "run_code", "custom_exceptions", "display_formatter",
                 "displayhook", "display_pub", "ex", "ev", "user_ns_hidden", "ast_node_interactivity",
                 "excepthook", "kernel", "system", "getoutput"}
SHELL_MAGICS = ("%%bash", "%%sh", "%%script", "%%system", "%system", "%sx", "%%writefile", "%%file", "%%perl",
                "%%ruby", "%load", "%run")


@dataclass
class Flag:
    category: str         # a key of CATEGORIES
    what: str             # one line: what the code does
    line: int             # line number in the cell (1-based; 0 when the cell as a whole)
    code: str = ""        # that line of code, trimmed
    cell: int = -1        # index of the cell in the notebook
    where: str = ""       # the graded function (or "extra cell") that holds the code
    student: str = ""

    def as_dict(self):
        return asdict(self)


def _dotted(node):
    """'a.b.c' for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Call) and _dotted(node.func) in ("get_ipython", "IPython.get_ipython"):
        parts.append("get_ipython()")
        return ".".join(reversed(parts))
    return None


def _leading_text(node):
    """The string a path expression starts with: a constant, 'x' + ..., f'x{..}', os.path.join('x', ...),
    pathlib.Path('x') / ...; None when it does not start with a string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        v = node.value
        return v.decode(errors="replace") if isinstance(v, bytes) else v
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Div, ast.Mod)):
        return _leading_text(node.left)
    if isinstance(node, ast.JoinedStr) and node.values:
        return _leading_text(node.values[0])
    if isinstance(node, ast.Call) and node.args:
        name = _dotted(node.func) or ""
        if name.endswith(("path.join", "Path", "PurePath", "expanduser", "abspath", "realpath", "normpath",
                          "fspath", "str")):
            return _leading_text(node.args[0])
    return None


def outside_path(text):
    """Why ``text`` names something outside the submission's folder, or None for a relative path inside it."""
    if not isinstance(text, str) or not text:
        return None
    t = text.strip()
    if t.startswith("/proc") or "/proc/" in t:
        return "the process's /proc entries"
    if t.startswith("~"):
        return "the home folder"
    if t.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", t):
        return "an absolute path"
    if ".." in re.split(r"[\\/]", t):
        return "a parent folder ('..')"
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, modules, lines):
        self.modules = dict(modules)   # alias -> module name
        self.ipython = {"get_ipython()"}   # names bound to the IPython shell
        self.lines = lines
        self.flags = []
        self.func = []

    # ---------------------------------------------------------------- helpers
    def flag(self, category, what, node):
        line = getattr(node, "lineno", 0)
        code = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        key = (category, what, line)
        if key not in {(f.category, f.what, f.line) for f in self.flags}:
            self.flags.append(Flag(category, what, line, code[:200], where=self.func[-1] if self.func else ""))

    def resolve(self, node):
        """The full dotted name of a Name/Attribute chain, its root resolved through the imports."""
        name = _dotted(node)
        if name is None:
            return None
        root, _, rest = name.partition(".")
        if root in self.ipython:
            root = "get_ipython()"
        elif root in self.modules:
            root = self.modules[root]
        return root + ("." + rest if rest else "")

    def is_module(self, node):
        return isinstance(node, ast.Name) and node.id in self.modules or \
            isinstance(node, ast.Attribute) and self.is_module(node.value) and \
            (self.resolve(node) or "").split(".")[0] in ("numpy", "utils", "scipy", "IPython", "os", "sys")

    # ---------------------------------------------------------------- imports
    def _imported(self, module, node):
        top = module.split(".")[0]
        if top in PROCESS_MODULES:
            self.flag("process", f"imports {module}", node)

    def visit_Import(self, node):
        for a in node.names:
            self._imported(a.name, node)
            if a.asname:
                self.modules[a.asname] = a.name
            else:
                self.modules[a.name.split(".")[0]] = a.name.split(".")[0]
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        mod = node.module or ""
        for a in node.names:
            full = f"{mod}.{a.name}" if mod else a.name
            self._imported(full, node)
            if node.level == 0 and mod.split(".")[0] in MODULE_PACKAGES:
                self.modules[a.asname or a.name] = full
            if full in ("IPython.get_ipython",):
                continue
            if full in ("sys._getframe", "inspect.stack", "inspect.currentframe", "gc.get_objects",
                        "gc.get_referrers", "gc.get_referents") or full in PROCESS_CALLS:
                self.modules[a.asname or a.name] = full   # a call of the bare name resolves to it
        self.generic_visit(node)

    # ---------------------------------------------------------------- definitions
    def _in_function(self, node):
        self.func.append(node.name)
        self.generic_visit(node)
        self.func.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _in_function

    # ---------------------------------------------------------------- assignments: patching
    def _target(self, target, node, verb):
        if isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self._target(t, node, verb)
            return
        if isinstance(target, ast.Starred):
            return self._target(target.value, node, verb)
        if isinstance(target, ast.Attribute):
            base = self.resolve(target.value)
            full = self.resolve(target)
            if base and (base.split(".")[0] == "get_ipython()"):
                self.flag("patch", f"{verb} {full} (the IPython shell)", node)
            elif self.is_module(target.value):
                self.flag("patch", f"{verb} {full}", node)
            elif target.attr in ("__code__", "__globals__", "__builtins__", "__dict__", "__class__"):
                self.flag("patch", f"{verb} {_dotted(target) or target.attr} (a function's or object's internals)",
                          node)
        elif isinstance(target, ast.Subscript):
            holder = target.value
            name = self.resolve(holder) or ""
            if name in ("sys.modules", "__builtins__", "builtins.__dict__") or name.endswith(".__dict__") and \
                    self.is_module(holder.value) or name.startswith("get_ipython()"):
                self.flag("patch", f"{verb} an entry of {name}", node)
            elif isinstance(holder, ast.Call) and _dotted(holder.func) == "vars" and holder.args and \
                    self.is_module(holder.args[0]):
                self.flag("patch", f"{verb} an entry of vars({_dotted(holder.args[0])})", node)
        elif isinstance(target, ast.Name) and target.id == "__builtins__":
            self.flag("patch", f"{verb} __builtins__", node)

    def visit_Assign(self, node):
        for t in node.targets:
            self._target(t, node, "assigns")
        if isinstance(node.value, ast.Call) and (self.resolve(node.value.func) or "").endswith("get_ipython"):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    self.ipython.add(t.id)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._target(node.target, node, "changes")
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self._target(node.target, node, "assigns")
        self.generic_visit(node)

    def visit_Delete(self, node):
        for t in node.targets:
            self._target(t, node, "deletes")
        self.generic_visit(node)

    # ---------------------------------------------------------------- attributes and names
    def visit_Attribute(self, node):
        if node.attr in INTROSPECTION_ATTRS:
            self.flag("introspection", f"reads .{node.attr}", node)
        full = self.resolve(node) or ""
        hook = full.split(".")[1] if full.startswith("get_ipython().") else ""
        if hook in ("system", "getoutput"):
            self.flag("process", f"runs a shell command through get_ipython().{hook}", node)
        elif hook in IPYTHON_HOOKS:
            self.flag("patch", f"uses get_ipython().{hook} (the IPython shell's hooks)", node)
        self.generic_visit(node)

    def visit_Constant(self, node):
        line = getattr(node, "lineno", 0)
        if isinstance(node.value, str) and ("/proc/self" in node.value or node.value.startswith("/proc/")) and \
                not any(f.line == line and "/proc" in f.what for f in self.flags):
            self.flag("process", f"names {node.value[:60]!r}", node)

    # ---------------------------------------------------------------- calls
    def visit_Call(self, node):
        name = self.resolve(node.func) or ""
        bare = _dotted(node.func) or ""
        if name in PROCESS_CALLS or name.split(".")[0] in PROCESS_MODULES:
            self.flag("process", f"calls {name}", node)
        if name in INTROSPECTION_CALLS:
            self.flag("introspection", f"calls {name}", node)
        if bare in ("setattr", "delattr") and node.args:
            obj = node.args[0]
            if self.is_module(obj) or (self.resolve(obj) or "").startswith("get_ipython()") or \
                    isinstance(obj, ast.Call) and _dotted(obj.func) in ("__import__", "importlib.import_module"):
                self.flag("patch", f"calls {bare} on {_dotted(obj) or 'a module'}", node)
        if name.startswith("sys.modules.") and name.rsplit(".", 1)[1] in (
                "update", "pop", "setdefault", "__setitem__", "__delitem__", "clear", "popitem"):
            self.flag("patch", f"edits sys.modules ({name.rsplit('.', 1)[1]})", node)
        if name.endswith("mock.patch") or name.endswith("mock.patch.object") or name.startswith("unittest.mock.patch") \
                or bare in ("patch", "monkeypatch.setattr"):
            self.flag("patch", f"calls {name or bare}", node)
        if bare in ("__import__", "importlib.import_module") or name == "importlib.import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                self._imported(node.args[0].value, node)
        if name in ("builtins.exec", "exec", "builtins.eval", "eval", "compile") and node.args:
            text = _leading_text(node.args[0])
            if text:
                self._scan_nested(text, node)
        self._check_paths(name, bare, node)
        self.generic_visit(node)

    def _check_paths(self, name, bare, node):
        pathish = name in FILE_CALLS or bare in ("open", "Path") or name.startswith("pathlib.") or \
            name.endswith((".read_text", ".read_bytes", ".open", ".iterdir", ".glob", ".rglob")) and \
            isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call)
        if bare == "Path.home" or name == "pathlib.Path.home":
            self.flag("files", f"calls {bare or name} (the home folder)", node)
        if not pathish:
            return
        for arg in list(node.args[:2]) + [k.value for k in node.keywords if k.arg in ("file", "path", "fname", "top")]:
            why = outside_path(_leading_text(arg))
            if why:  # /proc/self is the process itself (its pipes to the grader), not a file
                self.flag("process" if "/proc" in why else "files",
                          f"{name or bare}() on {why} ({_leading_text(arg)[:60]!r})", node)
                return
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call):
            self._check_paths(self.resolve(node.func.value.func) or "", _dotted(node.func.value.func) or "",
                              node.func.value)

    def _scan_nested(self, text, node):
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return
        inner = _Scanner(self.modules, text.splitlines())
        inner.visit(tree)
        for f in inner.flags:
            self.flag(f.category, f.what + " (in exec'd text)", node)


def _strip_magics(source):
    """(Python source with IPython magics and shell escapes blanked, flags for the shell ones)."""
    flags, out = [], []
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].split()[0]
        if magic.startswith(SHELL_MAGICS):
            flags.append(Flag("process", f"runs the cell magic {magic}", 1, lines[0].strip()[:200]))
        return "", flags
    for i, line in enumerate(lines, 1):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith("!") or re.match(r"^[\w.]+\s*=\s*!", stripped):
            flags.append(Flag("process", "runs a shell command", i, stripped[:200]))
            out.append(indent + "pass")
        elif stripped.startswith("%"):
            if stripped.split()[0].startswith(SHELL_MAGICS):
                flags.append(Flag("process", f"runs the magic {stripped.split()[0]}", i, stripped[:200]))
            out.append(indent + "pass")
        else:
            out.append(line)
    return "\n".join(out), flags


def imports_of(sources):
    """{alias: module} bound by the imports of ``sources`` (the notebook's cells: the setup cell's included)."""
    modules = dict(DEFAULT_MODULES)
    for src in sources:
        code, _ = _strip_magics(src)
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        modules[a.asname] = a.name
                    else:
                        modules[a.name.split(".")[0]] = a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and \
                    (node.module or "").split(".")[0] in MODULE_PACKAGES:
                for a in node.names:
                    modules[a.asname or a.name] = f"{node.module}.{a.name}"
    return modules


def scan_source(source, modules=None):
    """The flags of one cell's code (``modules``: {alias: module} bound by the notebook's other cells)."""
    code, flags = _strip_magics(source or "")
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        line = exc.lineno or 0
        lines = (source or "").splitlines()
        return flags + [Flag("unparsable", f"could not be parsed ({exc.msg})", line,
                             lines[line - 1].strip()[:200] if 0 < line <= len(lines) else "")]
    scanner = _Scanner(modules if modules is not None else DEFAULT_MODULES, code.splitlines())
    scanner.visit(tree)
    return flags + scanner.flags


def student_cells(nb):
    """[(cell index, label, source)] of the code a student wrote: the solution cells (label: their grade_id,
    the graded function) and the extra code cells (no nbgrader metadata; label "extra cell")."""
    out = []
    for i, c in enumerate(nb.get("cells", [])):
        if c.get("cell_type") != "code":
            continue
        src = c.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        if nbk.is_solution_cell(c):
            out.append((i, nbk.grade_id(c) or f"cell {i}", src))
        elif not nbk.nbgrader_meta(c) and src.strip():
            out.append((i, "extra cell", src))
    return out


def scan_notebook(nb, student=""):
    """Every flag of the student's cells of ``nb`` (a notebook dict: canonical or as submitted)."""
    cells = nb.get("cells", []) if isinstance(nb, dict) else []
    sources = ["".join(c.get("source", "")) if isinstance(c.get("source"), list) else c.get("source", "")
               for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]
    modules = imports_of(sources)
    flags = []
    for index, label, src in student_cells(nb):
        for f in scan_source(src, modules):
            f.cell, f.student = index, student
            f.where = f.where or label
            if label != "extra cell" and f.where != label:
                f.where = f"{label} ({f.where})"
            flags.append(f)
    return flags


def scan_report(report):
    """Flags of one grading report (grading/core.grade_submission): its canonical notebook's student cells."""
    canonical = report.get("canonical") or {}
    return scan_notebook(canonical, report.get("student", ""))


# outcomes of a submission that the report lists beside the flags
NOT_GRADED_NORMALLY = ("crashed", "timed out", "out of memory", "refused", "unreadable", "grader error")
