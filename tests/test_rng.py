"""Library code never reseeds the global RNG: ``src._rng.seeded`` and a scan of every src module."""

import ast
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import src
from src._rng import seeded

SRC = Path(src.__file__).resolve().parent
#: the only places allowed to seed the global generators: the notebook's seed_everything and seeded itself
ALLOWED = {SRC / "__init__.py", SRC / "_rng.py"}
GLOBAL_SEEDERS = {
    "torch.manual_seed",
    "torch.cuda.manual_seed",
    "torch.cuda.manual_seed_all",
    "torch.random.manual_seed",
    "np.random.seed",
    "numpy.random.seed",
    "random.seed",
    "seed_everything",
    "src.seed_everything",
}


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return "?"


TORCH_SEEDERS = {name for name in GLOBAL_SEEDERS if name.startswith("torch.")}


def _guards(with_node: ast.With) -> set[str]:
    """What a ``with`` block protects: torch's state (``torch.random.fork_rng``) or every state (``seeded``)."""
    names = {dotted(item.context_expr.func) for item in with_node.items if isinstance(item.context_expr, ast.Call)}
    if any(name.split(".")[-1] == "seeded" for name in names):
        return GLOBAL_SEEDERS
    if any(name.split(".")[-1] == "fork_rng" for name in names):
        return TORCH_SEEDERS
    return set()


def global_seed_calls(path: Path, root: Path = SRC.parent) -> list[str]:
    """Calls that reseed a global generator outside a block that restores it afterwards."""
    found = []

    def visit(node: ast.AST, allowed: frozenset[str]) -> None:
        if isinstance(node, ast.Call) and dotted(node.func) in GLOBAL_SEEDERS - allowed:
            found.append(f"{path.relative_to(root)}:{node.lineno}: {dotted(node.func)}(...)")
        if isinstance(node, ast.With):
            allowed = allowed | _guards(node)
        for child in ast.iter_child_nodes(node):
            visit(child, allowed)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), frozenset())
    return sorted(found, key=lambda call: int(call.split(":")[1]))


def test_no_src_module_reseeds_the_global_rng():
    calls = [call for path in sorted(SRC.rglob("*.py")) if path not in ALLOWED for call in global_seed_calls(path)]
    assert not calls, "use `with src._rng.seeded(seed):` or a local torch.Generator instead:\n" + "\n".join(calls)


def test_the_scan_finds_a_global_reseed(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import torch, numpy as np\nfrom src import seed_everything\n"
        "def f():\n    torch.manual_seed(0)\n    np.random.seed(1)\n    seed_everything(2)\n"
        "    g = torch.Generator().manual_seed(3)  # a local generator is fine\n"
        "    with torch.random.fork_rng(devices=[]):\n"
        "        torch.manual_seed(4)  # restored on exit: fine\n"
        "        np.random.seed(5)  # fork_rng does not restore numpy\n"
        "    with seeded(6):\n"
        "        np.random.seed(7)  # restored by seeded: fine\n"
    )
    calls = global_seed_calls(bad, tmp_path)
    assert calls == [
        "bad.py:4: torch.manual_seed(...)",
        "bad.py:5: np.random.seed(...)",
        "bad.py:6: seed_everything(...)",
        "bad.py:10: np.random.seed(...)",
    ]


def test_seeded_draws_what_seed_everything_draws():
    src.seed_everything(7)
    expected = (random.random(), float(np.random.rand()), torch.rand(3))
    torch.manual_seed(99)
    with seeded(7):
        got = (random.random(), float(np.random.rand()), torch.rand(3))
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])


def test_seeded_restores_the_callers_state_even_on_error():
    torch.manual_seed(1)
    random.seed(1)
    np.random.seed(1)
    after = (torch.rand(2), random.random(), float(np.random.rand()))
    torch.manual_seed(1)
    random.seed(1)
    np.random.seed(1)
    with pytest.raises(KeyError):
        with seeded(5):
            torch.rand(100)
            random.random()
            np.random.rand(10)
            raise KeyError("inside")
    again = (torch.rand(2), random.random(), float(np.random.rand()))
    assert torch.equal(after[0], again[0]) and after[1:] == again[1:]


def test_seeded_rejects_bad_seeds():
    with pytest.raises(TypeError, match="seed"):
        with seeded(1.5):
            pass
    with pytest.raises(TypeError, match="seed"):
        with seeded(True):
            pass
    with pytest.raises(ValueError, match="seed"):
        with seeded(-1):
            pass
