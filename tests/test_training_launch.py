"""slm_factory.training.launch (the train stage's backend choice and multi-GPU launch, on CPU), and the training benchmark's worker run
for real on a tiny random model (CPU), so the GPU benchmark's code path is exercised in CI."""

from __future__ import annotations

import pytest

from slm_factory.training import launch

from conftest import ROOT


def test_backend_choice_never_picks_unsloth_without_cuda():
    assert launch.pick_backend("auto", cuda=False, unsloth_installed=True) == "trl"
    assert launch.pick_backend("auto", cuda=True, unsloth_installed=True) == "unsloth"
    with pytest.raises(SystemExit, match="needs a CUDA GPU"):
        launch.pick_backend("unsloth", cuda=False, unsloth_installed=True)
    with pytest.raises(SystemExit, match="must be auto, trl or unsloth"):
        launch.pick_backend("deepspeed", cuda=True, unsloth_installed=False)


def test_launch_command_uses_accelerate_for_several_gpus():
    argv = ["--params", "p.yaml"]
    assert launch.launch_command("py", ROOT / "t.py", argv, 1, None) == ["py", str(ROOT / "t.py"), *argv]
    multi = launch.launch_command("py", ROOT / "t.py", argv, 2, None)
    assert multi[:6] == ["py", "-m", "accelerate.commands.launch", "--num_processes", "2", "--multi_gpu"]
    assert multi[-3:] == [str(ROOT / "t.py"), *argv]
    fsdp = launch.launch_command("py", ROOT / "t.py", argv, 4, "fsdp.yaml")
    assert fsdp[3:7] == ["--num_processes", "4", "--config_file", "fsdp.yaml"] and "--multi_gpu" not in fsdp


def test_gpu_count_checks_are_clear():
    launch.check_gpus("unsloth", 1, 0)
    with pytest.raises(SystemExit, match="needs train.backend: trl"):
        launch.check_gpus("unsloth", 2, 2)
    with pytest.raises(SystemExit, match="only 1 CUDA device"):
        launch.check_gpus("trl", 2, 1)


def test_accelerate_configs_are_checked_before_any_work(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    for shipped in ("configs/accelerate/zero2.yaml", "configs/accelerate/fsdp.yaml"):
        launch.check_accelerate_config(shipped, deepspeed_installed=True)
    launch.check_accelerate_config(None, deepspeed_installed=False)
    launch.check_accelerate_config("configs/accelerate/fsdp.yaml", deepspeed_installed=False)
    with pytest.raises(SystemExit, match="asks for DeepSpeed, which is not installed"):
        launch.check_accelerate_config("configs/accelerate/zero2.yaml", deepspeed_installed=False)
    with pytest.raises(SystemExit, match="does not exist"):
        launch.check_accelerate_config(str(tmp_path / "nope.yaml"), deepspeed_installed=True)
    (tmp_path / "bad.yaml").write_text("num_processes: 4\n")
    with pytest.raises(SystemExit, match="no distributed_type"):
        launch.check_accelerate_config(str(tmp_path / "bad.yaml"), deepspeed_installed=True)
    (tmp_path / "ds.yaml").write_text("distributed_type: DEEPSPEED\ndeepspeed_config:\n  deepspeed_config_file: gone.json\n")
    with pytest.raises(SystemExit, match="names gone.json, which does not exist"):
        launch.check_accelerate_config(str(tmp_path / "ds.yaml"), deepspeed_installed=True)


def test_one_gpu_runs_see_one_gpu():
    assert launch.process_env({}, 1, 2) == {"CUDA_VISIBLE_DEVICES": "0"}
    assert launch.process_env({"CUDA_VISIBLE_DEVICES": "3"}, 1, 2) == {"CUDA_VISIBLE_DEVICES": "3"}
    assert launch.process_env({}, 2, 2) == {} and launch.process_env({}, 1, 1) == {}
