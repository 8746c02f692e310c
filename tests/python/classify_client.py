#!/usr/bin/python3
"""A non-.NET client of the HardPair inference service, on stubs generated from protos/.

Usage: classify_client.py --address HOST:PORT --stubs DIR [--images FILE]
Prints one JSON object: the health status, a Classify answer for the first test image and the
labels ClassifyStream gives for the first three, in order.
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


def health_status(channel):
    # grpc.health.v1.Health/Check without generated stubs: an empty HealthCheckRequest, and the
    # response's field 1 (a varint enum: 1 = SERVING, 2 = NOT_SERVING).
    check = channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=lambda _: b"",
        response_deserializer=lambda data: data,
    )
    data = check(None, timeout=10)
    return {1: "SERVING", 2: "NOT_SERVING"}.get(data[1] if len(data) >= 2 and data[0] == 0x08 else 0, "UNKNOWN")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--images", default="/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
    args = parser.parse_args()
    sys.path.insert(0, args.stubs)

    import grpc
    from hardpair.v1 import classifier_pb2, classifier_pb2_grpc

    images, rows, cols = read_images(args.images, 3)

    def request(pixels, request_id=""):
        return classifier_pb2.ClassifyRequest(
            image=classifier_pb2.Image(uint8_pixels=pixels, shape=[1, rows, cols]),
            top_k=3,
            request_id=request_id,
        )

    with grpc.insecure_channel(args.address) as channel:
        status = health_status(channel)
        client = classifier_pb2_grpc.ClassifierStub(channel)
        answer = client.Classify(request(images[0], "python-0"), timeout=30)
        streamed = list(client.ClassifyStream(iter([request(p, f"s{i}") for i, p in enumerate(images)]), timeout=30))
        try:
            client.Classify(classifier_pb2.ClassifyRequest(), timeout=30)
            bad = "OK"
        except grpc.RpcError as error:
            bad = error.code().name

    print(json.dumps({
        "health": status,
        "label": answer.label,
        "class_name": answer.class_name,
        "confidence": answer.confidence,
        "top_k": [s.class_name for s in answer.top_k],
        "ambiguous": answer.hard_pair.ambiguous,
        "model_version": answer.model_version,
        "request_id": answer.request_id,
        "stream": [[r.request_id, r.label] for r in streamed],
        "empty_request": bad,
    }))


if __name__ == "__main__":
    main()
