// Runs a model written by `./darknet export onnx` in Node.js with npm's
// onnxruntime-web, on its WebAssembly backend, one thread, for
// tests/cli/test_onnx_node.sh.  The package is the one `make deps` installs
// into build/npm (tests/node/package.json pins its version); ORT_WEB names
// another copy of it.  The WebAssembly binary is read from the package's
// dist folder and handed to the runtime, so nothing is fetched.
//
//   node tests/node/run_onnx.mjs whole MODEL.onnx INPUTS.bin OUT.bin
//       the whole model on each input (INPUTS.bin: raw float32, one input
//       after the other, each of the model's input shape with batch 1);
//       OUT.bin holds the model's last "layer_i" output, one record an
//       image: int32 -1, int32 count, count float32 (onnx_run.py whole's
//       format).
//   node tests/node/run_onnx.mjs feed DIR INPUTS.bin REF.bin OUT.bin
//       each layer alone (DIR: onnx_run.py split's parts), fed the
//       reference's outputs of the layers it reads (REF.bin, a
//       tests/tools/dump_images dump) or the input; OUT.bin is a dump of
//       the layers' outputs, for tests/tools/compare_layers --common.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const pkg = process.env.ORT_WEB || join(root, "build/npm/node_modules/onnxruntime-web");
const ort = await import(pathToFileURL(join(pkg, "dist/ort.node.min.mjs")).href);
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmBinary = readFileSync(join(pkg, "dist/ort-wasm-simd-threaded.wasm"));
const options = { executionProviders: ["wasm"] };   // the default graph optimisations

function floats(path) {
    const b = readFileSync(path);
    return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

// {"image layer": Float32Array}, images counted from each layer 0
function readDump(path) {
    const b = readFileSync(path), out = new Map();
    let at = 0, image = -1;
    while (at < b.length) {
        const index = b.readInt32LE(at), count = b.readInt32LE(at + 4);
        if (index === 0) image++;
        out.set(image + " " + index, new Float32Array(b.buffer.slice(b.byteOffset + at + 8, b.byteOffset + at + 8 + 4 * count)));
        at += 8 + 4 * count;
    }
    return out;
}

function record(index, values) {
    const head = Buffer.alloc(8);
    head.writeInt32LE(index, 0);
    head.writeInt32LE(values.length, 4);
    return [head, Buffer.from(values.buffer, values.byteOffset, values.byteLength)];
}

const size = (shape) => shape.reduce((a, b) => a * b, 1);
const lastLayer = (names) => names.filter((n) => /^layer_\d+$/.test(n))
    .reduce((a, b) => (Number(b.slice(6)) > Number(a.slice(6)) ? b : a));

async function whole(modelPath, inputsPath, outPath) {
    const session = await ort.InferenceSession.create(readFileSync(modelPath), options);
    const shape = session.inputMetadata[0].shape.map(Number);
    const data = floats(inputsPath), n = size(shape), last = lastLayer(session.outputNames);
    const out = [];
    for (let at = 0; at < data.length; at += n) {
        const x = new ort.Tensor("float32", data.slice(at, at + n), shape);
        const y = await session.run({ [session.inputNames[0]]: x }, [last]);
        out.push(...record(-1, y[last].data));
    }
    writeFileSync(outPath, Buffer.concat(out));
    console.log("%d images run whole by onnxruntime-web %s (wasm)", data.length / n, ort.env.versions.web);
}

async function feed(dir, inputsPath, refPath, outPath) {
    const parts = readFileSync(join(dir, "parts.txt"), "utf8").trim().split("\n").map((line) => {
        const [index, ...inputs] = line.split(" ");
        return { index: Number(index), inputs: inputs.map((s) => s.split(":")).map(([name, d]) => [name, d.split(",").map(Number)]) };
    });
    for (const p of parts) p.session = await ort.InferenceSession.create(readFileSync(join(dir, `layer_${p.index}.onnx`)), options);
    const refs = readDump(refPath), data = floats(inputsPath);
    const images = 1 + Math.max(...[...refs.keys()].map((k) => Number(k.split(" ")[0])));
    const out = [];
    for (let image = 0; image < images; image++) {
        for (const p of parts) {
            const feeds = {};
            for (const [name, shape] of p.inputs) {
                const n = size(shape);
                const x = name === "input" ? data.slice(image * n, (image + 1) * n) : refs.get(image + " " + name.slice(6));
                feeds[name] = new ort.Tensor("float32", x, shape);
            }
            const y = await p.session.run(feeds);
            out.push(...record(p.index, y[`layer_${p.index}`].data));
        }
    }
    writeFileSync(outPath, Buffer.concat(out));
    console.log("%d layers run alone by onnxruntime-web %s (wasm): %s", parts.length, ort.env.versions.web,
        parts.map((p) => p.index).join(" "));
}

const [mode, ...args] = process.argv.slice(2);
const run = { whole, feed }[mode];
if (!run) {
    console.error("usage: run_onnx.mjs whole MODEL.onnx INPUTS.bin OUT.bin | feed DIR INPUTS.bin REF.bin OUT.bin");
    process.exit(2);
}
await run(...args);
