"""The record matches the code: every claim has a script and a stored result; one live seed lands in its spread."""

import re
import warnings
from pathlib import Path

import pytest
import torch

from src import claims, record
from src.aspp import DegenerateASPPWarning

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(p for p in (ROOT / "experiments").glob("*.py") if not p.name.startswith("_"))


def test_every_claim_has_a_script():
    """``main("<claim>")`` in its own script, or named in a script that records several claims from one training."""
    named = {m.group(1) for p in SCRIPTS for m in re.finditer(r'main\("([a-z_0-9]+)"\)', p.read_text())}
    named |= {
        m.group(1)
        for p in SCRIPTS
        for block in re.findall(r"^NAMES = \{(.*?)\}", p.read_text(), re.M | re.S)
        for m in re.finditer(r': "([a-z_0-9]+)"', block)
    }
    assert set(claims.CLAIMS) <= named, sorted(set(claims.CLAIMS) - named)


@pytest.mark.parametrize("name", sorted(claims.CLAIMS))
def test_claim_groups_build_and_are_not_degenerate(name):
    claim = claims.CLAIMS[name]
    x = torch.randn(2, 3, claim.image_size, claim.image_size)
    params = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateASPPWarning)
        for group, build in claim.groups.items():
            model = build(4).eval()
            assert model(x).shape == (2, 4, claim.image_size, claim.image_size)
            params[group] = sum(p.numel() for p in model.parameters())
    if name == "rf_dilation":  # the parameter-matched control: only the dilation differs
        assert len(set(params.values())) == 1
    assert claim.better in claim.groups and claim.worse in claim.groups


def test_dilation_pair_receptive_fields():
    from src.receptive_field import receptive_field

    def layers(dilated):  # the layers without the final upsampling
        return torch.nn.Sequential(*claims.DilationPair(4, dilated=dilated))

    assert receptive_field(layers(False), 64).size == 39
    assert receptive_field(layers(True), 64).size == 127
    with pytest.raises(TypeError, match="dilated"):
        claims.DilationPair(4, dilated=1)
    with pytest.raises(ValueError, match="context"):
        claims.ContextProbe(3, "global")


def test_run_rejects_bad_arguments():
    with pytest.raises(ValueError, match="name"):
        claims.run("no_such_claim")
    with pytest.raises(ValueError, match="scale"):
        claims.run("se_cue", scale=0)
    with pytest.raises(ValueError, match="groups"):
        claims.run("se_cue", groups=["nope"])


@pytest.mark.parametrize("name", sorted(claims.CLAIMS))
def test_recorded_config_is_the_code_s_protocol(name):
    if name not in record.available():
        pytest.skip(f"{name} not recorded yet (run experiments/{name}.py)")
    rec = record.load(name)
    claim = claims.CLAIMS[name]
    assert rec.config == claim.config(1.0)
    assert rec.data["lesson"] == claim.lesson and set(rec.groups) == set(claim.groups)
    assert rec.data["claim_test"]["better"] == claim.better and rec.data["claim_test"]["worse"] == claim.worse


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(claims.CLAIMS))
def test_one_live_seed_lands_inside_the_recorded_spread(name):
    """Rerun seed 0 at the live (reduced) scale: each group within 3 std of the recorded live runs."""
    if name not in record.available() or "live" not in record.load(name).data:
        pytest.skip(f"{name} not recorded yet (run experiments/{name}.py)")
    rec = record.load(name)
    live = rec.data["live"]
    torch.set_num_threads(2)
    values = claims.run(name, seed=rec.data["seeds"][0], scale=live["scale"], groups=list(live["groups"]))
    live_record = record.Record(name, {**rec.data, "groups": live["groups"]})
    for group, value in values.items():
        assert live_record.within_spread(group, value), (group, value, live["groups"][group])
