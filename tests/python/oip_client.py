#!/usr/bin/python3
"""An Open Inference Protocol client of HardPair, on stubs generated from protos/inference.

Usage: oip_client.py --address HOST:PORT --stubs DIR [--images FILE] [--count N] [--batch B]
Classifies the first N test images through inference.GRPCInferenceService/ModelInfer twice, as
raw UINT8 and as typed FP32 contents, B images a call, asking also for the classification
extension's top-3 strings; sends every malformed request the protocol must refuse. Prints one
JSON object: the metadata, the labels and probabilities of both passes, the parsed
classification strings, and the status code of each refused request.
"""
import argparse
import gzip
import json
import struct
import sys


def read_images(path, count):
    with gzip.open(path, "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 2051:
            raise SystemExit(f"{path}: not an IDX image file")
        return [f.read(rows * cols) for _ in range(min(count, n))], rows, cols


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--images", default="/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--model", default="classifier")
    args = parser.parse_args()
    sys.path.insert(0, args.stubs)

    import grpc
    from inference import open_inference_grpc_pb2 as pb, open_inference_grpc_pb2_grpc as rpc

    images, rows, cols = read_images(args.images, args.count)
    channel = grpc.insecure_channel(args.address)
    stub = rpc.GRPCInferenceServiceStub(channel)
    out = {
        "server_ready": stub.ServerReady(pb.ServerReadyRequest(), timeout=10).ready,
        "model_ready": stub.ModelReady(pb.ModelReadyRequest(name=args.model), timeout=10).ready,
        "server": stub.ServerMetadata(pb.ServerMetadataRequest(), timeout=10).name,
    }
    metadata = stub.ModelMetadata(pb.ModelMetadataRequest(name=args.model), timeout=10)
    out["versions"] = list(metadata.versions)
    out["input"] = [metadata.inputs[0].name, metadata.inputs[0].datatype, list(metadata.inputs[0].shape)]

    def outputs():
        return [
            pb.ModelInferRequest.InferRequestedOutputTensor(name="label"),
            pb.ModelInferRequest.InferRequestedOutputTensor(name="probabilities"),
        ]

    def raw_request(batch):
        return pb.ModelInferRequest(
            model_name=args.model,
            inputs=[pb.ModelInferRequest.InferInputTensor(name="image", datatype="UINT8", shape=[len(batch), 1, rows, cols])],
            outputs=outputs(),
            raw_input_contents=[b"".join(batch)])

    def typed_request(batch):
        values = [p / 255.0 for image in batch for p in image]
        return pb.ModelInferRequest(
            model_name=args.model,
            inputs=[pb.ModelInferRequest.InferInputTensor(
                name="image", datatype="FP32", shape=[len(batch), rows, cols],
                contents=pb.InferTensorContents(fp32_contents=values))],
            outputs=outputs())

    def read(response, index, fmt, size):
        if response.raw_output_contents:
            raw = response.raw_output_contents[index]
            return list(struct.unpack("<%d%s" % (len(raw) // size, fmt), raw))
        contents = response.outputs[index].contents
        return list(contents.int_contents) if fmt == "i" else list(contents.fp32_contents)

    versions = set()
    for name, build in (("raw", raw_request), ("typed", typed_request)):
        labels, probabilities = [], []
        for start in range(0, len(images), args.batch):
            response = stub.ModelInfer(build(images[start:start + args.batch]), timeout=60)
            versions.add(response.model_version)
            labels += read(response, 0, "i", 4)
            flat = read(response, 1, "f", 4)
            probabilities += [flat[i:i + 10] for i in range(0, len(flat), 10)]
        out[name] = {"labels": labels, "probabilities": probabilities}
    out["answered_by"] = sorted(versions)

    # The classification extension: BYTES [N, 3] "score:index:label", best first.
    classification = pb.ModelInferRequest(
        model_name=args.model,
        inputs=[pb.ModelInferRequest.InferInputTensor(name="image", datatype="UINT8", shape=[10, 1, rows, cols])],
        outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(
            name="probabilities", parameters={"classification": pb.InferParameter(int64_param=3)})],
        raw_input_contents=[b"".join(images[:10])])
    response = stub.ModelInfer(classification, timeout=60)
    raw = response.raw_output_contents[0]
    strings, offset = [], 0
    while offset < len(raw):
        (length,) = struct.unpack_from("<I", raw, offset)
        strings.append(raw[offset + 4:offset + 4 + length].decode("utf-8"))
        offset += 4 + length
    out["classification_shape"] = list(response.outputs[0].shape)
    out["classification"] = [[float(s.split(":", 2)[0]), int(s.split(":", 2)[1]), s.split(":", 2)[2]] for s in strings]

    # Every malformed request is INVALID_ARGUMENT; an unknown model NOT_FOUND.
    def status(change, build=raw_request):
        request = build(images[:1])
        change(request)
        try:
            stub.ModelInfer(request, timeout=10)
            return "OK"
        except grpc.RpcError as error:
            return error.code().name

    def set_(obj, field, value):
        setattr(obj, field, value)

    out["refused"] = {
        "unknown input": status(lambda r: set_(r.inputs[0], "name", "pixels")),
        "unknown output": status(lambda r: r.outputs.add(name="logits")),
        "wrong datatype": status(lambda r: set_(r.inputs[0], "datatype", "INT16")),
        "shape": status(lambda r: r.inputs[0].shape.__setitem__(3, cols - 1)),
        "raw length": status(lambda r: r.raw_input_contents.__setitem__(0, images[0][:-1])),
        "raw and typed": status(lambda r: r.inputs[0].contents.uint_contents.extend([0] * (rows * cols))),
        "non-finite": status(lambda r: r.inputs[0].contents.fp32_contents.__setitem__(0, float("nan")), typed_request),
        "unknown model": status(lambda r: set_(r, "model_name", "resnet")),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
