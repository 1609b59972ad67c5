#version 450
// Four independent FMA chains per invocation, so the measured rate is the
// ALU's and not one chain's latency. Also the correctness kernel: with
// integer inputs, m = 2 and c = 1 every step is exact.
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Data { float v[]; };
layout(push_constant) uniform Params { uint n; uint iters; float m; float c; };

void main()
{
	uint i = gl_GlobalInvocationID.x;
	if (i >= n)
		return;
	float x = v[i], y = x + 1.0, z = x + 2.0, w = x + 3.0;
	for (uint k = 0; k < iters; k++) {
		x = fma(x, m, c);
		y = fma(y, m, c);
		z = fma(z, m, c);
		w = fma(w, m, c);
	}
	v[i] = x + y + z + w;
}
