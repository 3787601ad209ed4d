#!/usr/bin/env python3
"""Times the official BasicVSR++ network (the authors' mmediting code, copied into the ignored
.official/ folder by fetch_official.sh) on the GPU machine's PyTorch, for comparison with
reelscale's LibTorch port in the same run. mmcv and mmedit are not installed there: the few
names the network files import are stubbed here, and mmcv's modulated deformable convolution
is replaced by torchvision.ops.deform_conv2d (same offset/mask layout).

usage: official_bench.py [--dir .official] [--size 1024x432] [--chunks 32 64 96] [--precision fp16]
                         [--compile default|max-autotune]
       official_bench.py --save-random ckpt.pth
prints one line per T: "T <frames> fps <frames/s> peak_gib <GiB>"; with --compile the network runs
under torch.compile (inductor) and the first call of each T, which compiles, is reported apart
("compile_s"): that is what a PyTorch user gets from one line, the peer our speed is compared to.
"""
import argparse
import logging
import sys
import time
import types

import torch
import torch.nn as nn


def _module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def _constant_init(module, val, bias=0):
    if getattr(module, 'weight', None) is not None:
        nn.init.constant_(module.weight, val)
    if getattr(module, 'bias', None) is not None:
        nn.init.constant_(module.bias, bias)


def _kaiming_init(module, a=0, mode='fan_out', nonlinearity='relu', bias=0, distribution='normal'):
    nn.init.kaiming_normal_(module.weight, a=a, mode=mode, nonlinearity=nonlinearity)
    if getattr(module, 'bias', None) is not None:
        nn.init.constant_(module.bias, bias)


class _ConvModule(nn.Module):
    # The subset of mmcv's ConvModule that SPyNet uses: conv (+ ReLU), no norm.
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 norm_cfg=None, act_cfg=dict(type='ReLU')):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
        self.activate = nn.ReLU(inplace=True) if act_cfg else None

    def forward(self, x):
        x = self.conv(x)
        return self.activate(x) if self.activate is not None else x


def _deform_conv(x, offset, mask, weight, bias, stride, padding, dilation, groups, deform_groups):
    import torchvision
    return torchvision.ops.deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding,
                                         dilation=dilation, mask=mask)


class _ModulatedDeformConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, deform_groups=1, bias=True):
        super().__init__()
        k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.groups, self.deform_groups = groups, deform_groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *k))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        nn.init.uniform_(self.weight, -1 / (in_channels * k[0] * k[1]) ** 0.5, 1 / (in_channels * k[0] * k[1]) ** 0.5)


class _Registry:
    def register_module(self, *a, **k):
        return lambda cls: cls


def load_official(folder):
    _module('mmcv')
    _module('mmcv.cnn', constant_init=_constant_init, kaiming_init=_kaiming_init, ConvModule=_ConvModule)
    _module('mmcv.ops', ModulatedDeformConv2d=_ModulatedDeformConv2d, modulated_deform_conv2d=_deform_conv)
    _module('mmcv.runner', load_checkpoint=lambda *a, **k: None)
    _module('mmcv.utils')
    _module('mmcv.utils.parrots_wrapper', _BatchNorm=nn.modules.batchnorm._BatchNorm)
    _module('mmedit')
    _module('mmedit.utils', get_root_logger=lambda: logging.getLogger('official'))
    _module('mmedit.models')
    _module('mmedit.models.registry', BACKBONES=_Registry())
    common = _module('mmedit.models.common')
    _module('mmedit.models.backbones')
    _module('mmedit.models.backbones.sr_backbones')

    def run(path, module, drop=()):
        src = open(f'{folder}/{path}').read()
        for line in drop:
            src = src.replace(line, '')
        exec(compile(src, path, 'exec'), module.__dict__)

    run('sr_backbone_utils.py', common)
    run('upsample.py', common, drop=('from .sr_backbone_utils import default_init_weights',))
    run('flow_warp.py', common)
    net = _module('mmedit.models.backbones.sr_backbones.basicvsr_net')
    run('basicvsr_net.py', net)
    pp = _module('mmedit.models.backbones.sr_backbones.basicvsr_pp')
    run('basicvsr_pp.py', pp)
    return pp.BasicVSRPlusPlus


def precision_check(BasicVSRPlusPlus, ckpt, npy):
    import numpy as np
    sd = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    sd = {k[len('generator.'):]: v for k, v in sd.items() if k.startswith('generator.')}
    mid = sd['feat_extract.main.0.weight'].shape[0]
    blocks = len({k.split('.')[4] for k in sd if k.startswith('backbone.backward_1.main.2.')})
    model = BasicVSRPlusPlus(mid_channels=mid, num_blocks=blocks).cuda().eval()
    model.load_state_dict(sd, strict=True)
    x = np.load(npy)
    x = torch.from_numpy(x.astype(np.float32) / (255.0 if x.dtype == np.uint8 else 1.0)).cuda()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    with torch.inference_mode():
        ref = model(x).double()
        for name, dt in (('fp16', torch.float16), ('bf16', torch.bfloat16)):
            model.is_mirror_extended = False
            with torch.autocast('cuda', dtype=dt):
                y = model(x).double()
            print(f'official {name} autocast vs fp32 (TF32 off): relative L2 error '
                  f'{((y - ref).norm() / ref.norm()).item():.6g}', flush=True)
    del model, ref, y
    torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', default='.official')
    ap.add_argument('--size', default='1024x432')
    ap.add_argument('--chunks', type=int, nargs='+', default=[32])
    ap.add_argument('--precision', default='fp16', choices=['fp16', 'bf16', 'fp32'])
    ap.add_argument('--warmup', type=int, default=4)
    ap.add_argument('--compile', choices=['default', 'max-autotune'],
                    help='time the network under torch.compile with this inductor mode')
    ap.add_argument('--precision-check', nargs=2, metavar=('CKPT', 'NPY'),
                    help='print the official fp16/bf16 autocast relative L2 error against fp32 (TF32 off) '
                         'for this checkpoint on this (1,t,3,h,w) uint8 or float .npy, then time')
    ap.add_argument('--save-random', metavar='PTH',
                    help='save the official c64n7 network with its default random initialisation '
                         '(seed 0) as a checkpoint reelscale loads (state_dict, generator. prefix), and exit')
    args = ap.parse_args()
    w, h = map(int, args.size.split('x'))
    BasicVSRPlusPlus = load_official(args.dir)
    if args.save_random:
        # Speed does not depend on the weights; released checkpoints cannot be downloaded here.
        torch.manual_seed(0)
        net = BasicVSRPlusPlus(mid_channels=64, num_blocks=7)
        sd = {'generator.' + k: v for k, v in net.state_dict().items()}
        torch.save({'state_dict': sd}, args.save_random)
        print(f'saved {len(sd)} tensors to {args.save_random}')
        return
    if args.precision_check:
        precision_check(BasicVSRPlusPlus, *args.precision_check)
    torch.manual_seed(0)
    model = BasicVSRPlusPlus(mid_channels=64, num_blocks=7).cuda().eval()
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    dtype = {'fp16': torch.float16, 'bf16': torch.bfloat16, 'fp32': None}[args.precision]
    net = torch.compile(model, mode=args.compile) if args.compile else model

    def run(t):
        x = torch.rand(1, t, 3, h, w, device='cuda')
        with torch.inference_mode(), torch.autocast('cuda', dtype=dtype or torch.float16, enabled=dtype is not None):
            y = net(x)
        torch.cuda.synchronize()
        return y

    mode = f' torch.compile({args.compile})' if args.compile else ' eager'
    print(f'official BasicVSR++ c64n7 {w}x{h} torch {torch.__version__} {args.precision} autocast{mode}', flush=True)
    if args.warmup and not args.compile:  # compiled: each T compiles its own graph below
        run(args.warmup)
    for t in args.chunks:
        start = time.perf_counter()
        warm = run(t)  # untimed: allocator growth, as bench_model does (and compilation)
        if args.compile:
            print(f'T {t} compile_s {time.perf_counter() - start:.1f}', flush=True)
        del warm
        torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        y = run(t)
        secs = time.perf_counter() - start
        del y
        print(f'T {t} fps {t / secs:.3f} peak_gib {torch.cuda.max_memory_allocated() / 2**30:.2f} seconds {secs:.2f}',
              flush=True)


if __name__ == '__main__':
    main()
