"""A trained model leaves PyTorch: ONNX export, onnxruntime inference, int8 post-training quantisation.

onnx_export.py writes the ONNX file (fused Conv+BN, decoded head output, metadata that makes it
self-describing); metadata.py reads that back as a checkpoint-like dict; onnx_runtime.py runs it
behind the call signature of an eval-mode DetectionModel, so `val` and `predict` use one path;
quantize.py writes the int8 model; verify.py compares a written file against PyTorch;
export_cli.py is `turboyolo export`. onnx and onnxruntime are the optional extra `export`
(extra.py says so in one line when they are missing).
"""
