// tokenize_js.cjs — the JavaScript reference (@lenml/tokenizers, a port of transformers.js) encoding
// every file named on the command line with one real tokenizer; prints one JSON array per file.
//   node tokenize_js.cjs deepseek_v3|qwen3 FILE...
const path = require('path');
const fs = require('fs');
const base = path.join(__dirname, '../../build/npm/node_modules/@lenml');
const { fromPreTrained } = require(path.join(base, 'tokenizer-' + process.argv[2]));
const tok = fromPreTrained();
for (const f of process.argv.slice(3)) {
	const text = fs.readFileSync(f, 'utf8');
	console.log(JSON.stringify(tok.encode(text, { add_special_tokens: false })));
}
