# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   lesson:
#     summary:
#       vi: "RefineNet: RCU, hợp nhất đa độ phân giải, CRP, bộ nhớ so với ResNet giãn"
#       en: "RefineNet: RCU, multi-resolution fusion, CRP, memory against dilated ResNets"
# ---

# %% [markdown] lang="vi"
# # Bài 05 — RefineNet: khối tích chập phần dư, hợp nhất đa độ phân giải, gộp phần dư chuỗi và cái giá bộ nhớ của ResNet giãn
#
# **Mục tiêu của bài**
#
# 1. Hiểu vấn đề mà RefineNet (Lin và cộng sự, arXiv 1611.06612) giải quyết: ResNet có bước trượt (*stride*) làm mất độ phân giải, còn ResNet giãn (lớp cuối dùng tích chập giãn thay cho bước trượt) giữ được độ phân giải nhưng tốn nhiều phép tính và bộ nhớ.
# 2. Tự xây ba khối của RefineNet và xem kích thước (*shape*) của từng khối: khối tích chập phần dư (RCU, *residual conv unit*), hợp nhất đa độ phân giải (*multi-resolution fusion*), gộp phần dư chuỗi (CRP, *chained residual pooling*).
# 3. Ghép chúng thành chuỗi xếp tầng 4 khối (*4-cascade*) đi từ đặc trưng thô nhất đến đặc trưng mịn nhất, và vẽ nó ra.
# 4. **Đo** (không trích dẫn) bộ nhớ kích hoạt đỉnh và FLOPs của RefineNet trên ResNet-101 so với DeepLabV3 trên ResNet-101 giãn, ở ảnh $512 \times 512$.
# 5. Huấn luyện RefineNet rút gọn (*Light-Weight RefineNet*, arXiv 1810.03272) và DeepLabV3 giãn tới OS 8 với **cùng số tham số** trên dữ liệu có nét mảnh, rồi đặt mIoU của lần chạy trong notebook cạnh trung bình ± độ lệch chuẩn qua 5 hạt giống ngẫu nhiên đã ghi lại.

# %% [markdown] lang="en"
# # Lesson 05 — RefineNet: residual conv units, multi-resolution fusion, chained residual pooling and the memory price of dilated ResNets
#
# **Goals**
#
# 1. Understand the problem RefineNet (Lin et al., arXiv 1611.06612) solves: a strided ResNet loses resolution, while a dilated ResNet (its last stages use dilated convolution instead of stride) keeps the resolution but costs a lot of computation and memory.
# 2. Build the three RefineNet blocks yourself and look at each block's shapes: the residual conv unit (RCU), multi-resolution fusion and chained residual pooling (CRP).
# 3. Assemble them into the 4-cascade that climbs from the coarsest features to the finest, and draw it.
# 4. **Measure** (not quote) the peak activation memory and FLOPs of RefineNet on a ResNet-101 against DeepLabV3 on a dilated ResNet-101, at $512 \times 512$.
# 5. Train Light-Weight RefineNet (arXiv 1810.03272) and a DeepLabV3 dilated to OS 8 with the **same parameter count** on data with thin strokes, and put the notebook's mIoU next to the recorded mean ± std over 5 seeds.

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from src import checks, data, models, profiling, train, viz
from src import refinenet as rn
from src.backbones import build_backbone
from src.deeplab import DeepLabV3

src.seed_everything(0)
torch.set_num_threads(2)

# %% [markdown] lang="vi"
# ## 1. Vấn đề: độ phân giải hay chi phí?
#
# Một mạng xương sống (*backbone*) ResNet thu nhỏ ảnh qua bốn tầng `layer1` ... `layer4`, với tỉ lệ giảm kích thước đầu ra (*output stride*, OS) lần lượt là 4, 8, 16, 32. Ở `layer4` một ảnh $512 \times 512$ chỉ còn $16 \times 16$ ô: đủ để biết "trong ảnh có con mèo", nhưng quá thô để vẽ đường viền của nó.
#
# Bài 02 và 03 chữa điều này bằng tích chập giãn (*dilated convolution*): bỏ bước trượt của `layer3`, `layer4` và giãn các nhân tích chập, để bản đồ đặc trưng (*feature map*) cuối có OS 8. Cái giá nằm ngay trong công thức chi phí của một lớp tích chập $k \times k$:
#
# $$\text{MAC} = H_{\text{out}}\, W_{\text{out}}\, k^2\, C_{\text{in}}\, C_{\text{out}}.$$
#
# Trọng số không đổi, nhưng $H_{\text{out}} W_{\text{out}}$ của `layer4` tăng $4^2 = 16$ lần khi đi từ OS 32 xuống OS 8, và `layer3` tăng 4 lần. Với ResNet-101, `layer3` có 23 khối và `layer4` có 2048 kênh: đó chính là phần nặng nhất của mạng. Bộ nhớ kích hoạt (các tensor phải giữ lại cho lan truyền ngược) cũng tăng theo đúng tỉ lệ số điểm ảnh.
#
# RefineNet chọn con đường khác: giữ ResNet **có bước trượt** (OS 32, rẻ), rồi đi ngược lên bằng một bộ giải mã (*decoder*) nhiều nhánh: đặc trưng ngữ nghĩa thô ở tầng sâu được *làm tinh* (*refine*) bằng đặc trưng chi tiết ở tầng nông hơn, từng tầng một. Bảng dưới in kích thước các tầng của mạng xương sống nhỏ của khoá học với ảnh $64\times 64$, ở OS 32 và OS 8.

# %% [markdown] lang="en"
# ## 1. The problem: resolution or cost?
#
# A ResNet backbone shrinks the image through four stages `layer1` ... `layer4`, with output stride (OS) 4, 8, 16 and 32. At `layer4` a $512 \times 512$ image is down to $16 \times 16$ cells: enough to know "there is a cat", too coarse to draw its outline.
#
# Lessons 02 and 03 fixed this with dilated convolution: drop the strides of `layer3` and `layer4` and dilate their kernels, so that the last feature map has OS 8. The price is right there in the cost of a $k \times k$ convolution:
#
# $$\text{MAC} = H_{\text{out}}\, W_{\text{out}}\, k^2\, C_{\text{in}}\, C_{\text{out}}.$$
#
# The weights are unchanged, but $H_{\text{out}} W_{\text{out}}$ of `layer4` grows $4^2 = 16$ times from OS 32 to OS 8, and that of `layer3` 4 times. In a ResNet-101, `layer3` has 23 blocks and `layer4` 2048 channels: the heaviest part of the network. Activation memory (the tensors kept for the backward pass) grows with the pixel count too.
#
# RefineNet takes another road: keep the **strided** ResNet (OS 32, cheap), then climb back up with a multi-path decoder: the coarse semantic features of the deep stages are *refined* with the detailed features of the shallower ones, one stage at a time. The table below prints the stage shapes of the course's tiny backbone on a $64\times 64$ image, at OS 32 and OS 8.

# %%
# NBVAL_CHECK_OUTPUT
x64 = torch.randn(1, 3, 64, 64)
rows = []
for os_ in (32, 8):
    backbone = build_backbone("tiny", output_stride=os_).eval()
    with torch.no_grad():
        stages = backbone(x64)
    rows.append({"OS": os_, **{name: "×".join(map(str, t.shape[1:])) for name, t in stages.items()}})
print(pd.DataFrame(rows).set_index("OS").to_string())

# %% [markdown] lang="vi"
# ## 2. Khối tích chập phần dư (RCU)
#
# RCU là một khối ResNet rút gọn, **không có batch norm** (bài báo chỉ nói rằng RCU là khối tích chập của ResNet gốc đã bỏ các lớp batch norm, mục 3.2, và không nêu lý do):
#
# $$\text{RCU}(x) = x + \text{conv}_2\big(\mathrm{ReLU}(\text{conv}_1(\mathrm{ReLU}(x)))\big), \qquad \text{conv}_i: 3\times 3.$$
#
# Nhờ kết nối phần dư (*residual connection*), gradient đi thẳng qua phép cộng, và khối chỉ cần học phần "sửa" thêm vào đặc trưng của mạng xương sống. Trong RefineNet, mỗi đầu vào đi qua hai RCU trước khi được hợp nhất (hai RCU này điều chỉnh đặc trưng đã huấn luyện trước cho phù hợp với bài toán phân vùng), và đầu ra của mỗi khối RefineNet đi qua thêm một RCU. Kích thước không đổi:

# %% [markdown] lang="en"
# ## 2. The residual conv unit (RCU)
#
# An RCU is a trimmed ResNet block, **without batch norm** (the paper only says that the RCU is the original ResNet convolution unit with its batch-normalization layers removed, Sec. 3.2, and gives no reason):
#
# $$\text{RCU}(x) = x + \text{conv}_2\big(\mathrm{ReLU}(\text{conv}_1(\mathrm{ReLU}(x)))\big), \qquad \text{conv}_i: 3\times 3.$$
#
# Thanks to the residual connection, gradients flow straight through the addition and the block only has to learn a "correction" added to the backbone's features. In RefineNet every input goes through two RCUs before fusion (they adapt the pretrained features to segmentation), and the output of each RefineNet block goes through one more RCU. The shape is unchanged:

# %%
# NBVAL_CHECK_OUTPUT
rcu = rn.ResidualConvUnit(32)
x = torch.randn(1, 32, 16, 16)
print("RCU:", tuple(x.shape), "->", tuple(rcu(x).shape), "| params:", models.count_parameters(rcu))

# %% [markdown] lang="vi"
# ## 3. Hợp nhất đa độ phân giải
#
# Một khối RefineNet nhận nhiều đường vào (*path*) với độ phân giải khác nhau, ví dụ đầu ra thô của khối trước ở $\tfrac{1}{32}$ và đặc trưng của `layer3` ở $\tfrac{1}{16}$. Hợp nhất đa độ phân giải (*multi-resolution fusion*) làm ba việc:
#
# 1. một tích chập $3\times 3$ riêng cho mỗi đường vào, đưa số kênh về **số kênh nhỏ nhất** trong các đầu vào (và cân lại biên độ giữa các đường);
# 2. phóng to (*upsampling*) bằng nội suy song tuyến (*bilinear interpolation*) mọi kết quả lên **độ phân giải lớn nhất**;
# 3. cộng tất cả lại:
#
# $$\text{MRF}(x_1,\dots,x_n) = \sum_{i=1}^{n} \mathrm{up}_{H\times W}\big(\text{conv}_i(x_i)\big), \quad (H, W) = \text{kích thước của đầu vào lớn nhất}.$$
#
# Một chi tiết quan trọng: phải phóng to tới **đúng** kích thước $(H, W)$, không phải "nhân 2". Với ảnh có cạnh lẻ, ví dụ 97 điểm ảnh, các tầng có cạnh 25, 13, 7, 4 (làm tròn lên): nhân đôi 13 được 26, không khớp với 25. Khi chỉ có một đường vào (RefineNet-4), khối này để nguyên đầu vào.
#
# ### Bài tập 05-1 — hợp nhất đa độ phân giải
#
# Viết `multi_resolution_fusion(features, convs)`: `features` là một danh sách (`list`) các tensor $N \times C_i \times H_i \times W_i$, `convs[i]` là tích chập dành cho `features[i]` (đã đưa về cùng số kênh). Trả về tổng đã phóng to tới kích thước của bản đồ có nhiều điểm ảnh nhất. Dùng `F.interpolate(..., size=..., mode="bilinear", align_corners=False)`.

# %% [markdown] lang="en"
# ## 3. Multi-resolution fusion
#
# A RefineNet block takes several input paths at different resolutions, for example the coarse output of the previous block at $\tfrac{1}{32}$ and the `layer3` features at $\tfrac{1}{16}$. Multi-resolution fusion does three things:
#
# 1. one $3\times 3$ convolution per input path, bringing it to the **smallest channel count** among the inputs (and rescaling the paths against each other);
# 2. bilinear upsampling of every result to the **largest resolution**;
# 3. a sum:
#
# $$\text{MRF}(x_1,\dots,x_n) = \sum_{i=1}^{n} \mathrm{up}_{H\times W}\big(\text{conv}_i(x_i)\big), \quad (H, W) = \text{the size of the largest input}.$$
#
# One detail matters: upsample to **exactly** $(H, W)$, not "times 2". With an odd side, say 97 pixels, the stages have sides 25, 13, 7, 4 (rounded up): doubling 13 gives 26, not 25. With a single input path (RefineNet-4) the block passes its input through.
#
# ### Exercise 05-1 — multi-resolution fusion
#
# Write `multi_resolution_fusion(features, convs)`: `features` is a list of $N \times C_i \times H_i \times W_i$ tensors, `convs[i]` the convolution for `features[i]` (already bringing them to one channel count). Return the sum upsampled to the size of the map with the most pixels. Use `F.interpolate(..., size=..., mode="bilinear", align_corners=False)`.


# %%
def multi_resolution_fusion(features, convs):
    ### BEGIN SOLUTION
    size = max((f.shape[-2:] for f in features), key=lambda s: s[0] * s[1])
    out = 0
    for f, conv in zip(features, convs):
        out = out + F.interpolate(conv(f), size=size, mode="bilinear", align_corners=False)
    return out
    ### END SOLUTION


# %%
result = checks.check_multi_resolution_fusion(multi_resolution_fusion)

# %% [markdown] lang="vi"
# Khối `rn.MultiResolutionFusion` của `src` bọc đúng phép tính này. Với hai đường vào 64 kênh ở $2\times 2$ và 32 kênh ở $4 \times 4$:

# %% [markdown] lang="en"
# `src`'s `rn.MultiResolutionFusion` module wraps exactly this computation. With two paths, 64 channels at $2\times 2$ and 32 channels at $4 \times 4$:

# %%
# NBVAL_CHECK_OUTPUT
fusion = rn.MultiResolutionFusion([64, 32])
coarse, fine = torch.randn(1, 64, 2, 2), torch.randn(1, 32, 4, 4)
print("fusion:", tuple(coarse.shape), "+", tuple(fine.shape), "->", tuple(fusion(coarse, fine).shape))
odd = torch.randn(1, 3, 97, 97)
print("97x97 image, stage sides:", [t.shape[-1] for t in build_backbone("tiny").eval()(odd).values()])

# %% [markdown] lang="vi"
# ## 4. Gộp phần dư chuỗi (CRP)
#
# Sau khi hợp nhất, RefineNet cần **ngữ cảnh** của một vùng lớn (cỏ thường nằm cạnh đất, bầu trời ở phía trên...). CRP thu ngữ cảnh bằng một chuỗi các khối "gộp cực đại $5\times 5$ bước trượt 1 + tích chập", mỗi khối lấy đầu ra của khối **trước** làm đầu vào, và mọi đầu ra được cộng dồn:
#
# $$p_0 = \mathrm{ReLU}(x), \qquad p_j = \text{conv}_j\big(\mathrm{maxpool}_{5\times5}(p_{j-1})\big), \qquad \text{CRP}(x) = \sum_{j=0}^{B} p_j.$$
#
# Vì phép gộp có bước trượt 1 (và phần đệm 2), kích thước không đổi; nhưng mỗi khối mở rộng trường tiếp nhận thêm $4 + 2 = 6$ điểm ảnh (gộp $5\times5$ rồi tích chập $3\times 3$), nên sau $B = 4$ khối (lựa chọn của RefineNet rút gọn; bài báo CVPR dùng hai khối, theo các bản tóm tắt mà chúng tôi đọc được) mỗi điểm đầu ra "nhìn thấy" một ô $25 \times 25$ của bản đồ đặc trưng, tức $25 \times 32 = 800$ điểm ảnh ở tầng OS 32. Các tích chập (học được) quyết định khối nào đóng góp bao nhiêu: đây là một dạng gộp kim tự tháp không gian (*spatial pyramid pooling*) nối tiếp thay vì song song như ASPP.
#
# ### Bài tập 05-2 — CRP
#
# Viết `chained_residual_pooling(x, convs)` theo công thức trên: `convs` là danh sách $B$ tích chập; phép gộp là `F.max_pool2d(p, 5, stride=1, padding=2)`.

# %% [markdown] lang="en"
# ## 4. Chained residual pooling (CRP)
#
# After fusion, RefineNet wants the **context** of a large region (grass tends to lie next to soil, sky at the top...). CRP gathers it with a chain of "$5\times 5$ stride-1 max-pool + convolution" blocks, each taking the **previous** block's output as its input, all outputs added to a running sum:
#
# $$p_0 = \mathrm{ReLU}(x), \qquad p_j = \text{conv}_j\big(\mathrm{maxpool}_{5\times5}(p_{j-1})\big), \qquad \text{CRP}(x) = \sum_{j=0}^{B} p_j.$$
#
# Since the pooling has stride 1 (and padding 2), the size is unchanged; but every block widens the receptive field by $4 + 2 = 6$ pixels ($5\times5$ pool, then $3\times 3$ conv), so after $B = 4$ blocks (Light-Weight RefineNet's choice; the CVPR paper uses two, according to the summaries we could read) each output "sees" a $25 \times 25$ window of the feature map, i.e. $25 \times 32 = 800$ pixels at the OS-32 stage. The (learned) convolutions decide how much each block contributes: it is a form of spatial pyramid pooling, in series rather than in parallel as in ASPP.
#
# ### Exercise 05-2 — CRP
#
# Write `chained_residual_pooling(x, convs)` following the formula: `convs` is a list of $B$ convolutions; the pooling is `F.max_pool2d(p, 5, stride=1, padding=2)`.


# %%
def chained_residual_pooling(x, convs):
    ### BEGIN SOLUTION
    x = F.relu(x)
    path = x
    for conv in convs:
        path = conv(F.max_pool2d(path, 5, stride=1, padding=2))
        x = x + path
    return x
    ### END SOLUTION


# %%
result = checks.check_chained_residual_pooling(chained_residual_pooling)

# %% [markdown] lang="vi"
# Để **thấy** trường tiếp nhận lớn dần, ta đặt mọi trọng số của các tích chập bằng $1/9$ (tích chập trung bình) và đưa vào một điểm ảnh sáng duy nhất: đầu ra của mỗi bước chuỗi lan rộng thêm 3 điểm ảnh về mỗi phía.

# %% [markdown] lang="en"
# To **see** the receptive field grow, set every convolution weight to $1/9$ (an averaging convolution) and feed a single bright pixel: each step of the chain spreads 3 more pixels on each side.

# %%
crp = rn.ChainedResidualPooling(1, blocks=4)
for conv in crp.convs:
    nn.init.constant_(conv.weight, 1 / 9)
impulse = torch.zeros(1, 1, 31, 31)
impulse[0, 0, 15, 15] = 1.0
fig, axes = plt.subplots(1, 5, figsize=(9, 2.1))
with torch.no_grad():
    for b, ax in enumerate(axes):
        response = rn.chained_residual_pooling(impulse, crp.convs[:b])[0, 0]
        ax.imshow(response > 0, cmap="Greys", vmin=0, vmax=1)
        ax.set_title(
            src.tr(
                f"{b} khối: {int((response[15] > 0).sum())} px",
                f"{b} block{'' if b == 1 else 's'}: {int((response[15] > 0).sum())} px",
            ),
            fontsize=8,
        )
        ax.set_axis_off()
fig.tight_layout()

# %% [markdown] lang="vi"
# ## 5. Khối RefineNet và chuỗi xếp tầng 4 khối
#
# Một khối RefineNet-$m$ ghép ba phần trên: hai RCU cho mỗi đường vào $\to$ hợp nhất đa độ phân giải $\to$ CRP $\to$ một RCU đầu ra. Toàn mạng là một chuỗi xếp tầng (*cascade*):
#
# - mỗi tầng `layer`$m$ của ResNet trước hết qua một tích chập $3\times3$ giảm số kênh (256; riêng `layer4` là 512, như trong bài báo);
# - RefineNet-4 chỉ nhận `layer4` (1/32); RefineNet-3 hợp nhất đầu ra của RefineNet-4 với `layer3` (1/16); rồi RefineNet-2 (1/8), RefineNet-1 (1/4);
# - đầu ra của RefineNet-1 qua hai RCU và một tích chập $1\times1$ cho ra điểm số của từng lớp ở độ phân giải 1/4, rồi được phóng to song tuyến về kích thước ảnh.
#
# **RefineNet rút gọn** (*Light-Weight RefineNet*, Nekrasov và cộng sự, arXiv 1810.03272) nhận xét rằng phần lớn chi phí nằm ở các tích chập $3\times3$ của RCU, hợp nhất và CRP trên 256-512 kênh. Họ bỏ hết RCU và thay các tích chập $3\times 3$ đó bằng $1\times 1$: ngữ cảnh vẫn do phép gộp $5\times5$ của CRP mang lại. Đó là `light=True` trong `src`. Dưới đây là RefineNet rút gọn trên mạng xương sống nhỏ, kích thước mọi bản đồ trong chuỗi xếp tầng với ảnh $64 \times 64$:

# %% [markdown] lang="en"
# ## 5. The RefineNet block and the 4-cascade
#
# A RefineNet-$m$ block chains the parts above: two RCUs per input path $\to$ multi-resolution fusion $\to$ CRP $\to$ one output RCU. The whole network is a cascade:
#
# - each ResNet stage `layer`$m$ first goes through a $3\times3$ convolution that reduces its channels (256; 512 for `layer4`, as in the paper);
# - RefineNet-4 takes `layer4` alone (1/32); RefineNet-3 fuses RefineNet-4's output with `layer3` (1/16); then RefineNet-2 (1/8) and RefineNet-1 (1/4);
# - RefineNet-1's output goes through two RCUs and a $1\times1$ convolution that scores each class at 1/4 resolution, then is upsampled bilinearly to the image size.
#
# **Light-Weight RefineNet** (Nekrasov et al., arXiv 1810.03272) observed that most of the cost lies in the $3\times3$ convolutions of the RCUs, the fusion and the CRP on 256-512 channels. It drops every RCU and turns those $3\times 3$ convolutions into $1\times 1$: context still comes from CRP's $5\times5$ pooling. That is `light=True` in `src`. Below, the light-weight RefineNet on the tiny backbone, and the shape of every map in the cascade for a $64 \times 64$ image:

# %%
# NBVAL_CHECK_OUTPUT
src.seed_everything(0)
lw = rn.RefineNet(5, "tiny", light=True, channels=32).eval()
with torch.no_grad():
    maps = lw.cascade(torch.randn(1, 3, 64, 64))
shapes = {name: tuple(t.shape) for name, t in maps.items()}
for name, shape in shapes.items():
    print(f"{name:8s} {shape}")
print("output  ", tuple(lw(torch.randn(1, 3, 64, 64)).shape))

# %%
fig = rn.draw_cascade(shapes)

# %% [markdown] lang="vi"
# Hai biến thể khác nhau thế nào về số tham số? (cùng mạng xương sống nhỏ, cùng số kênh 32)

# %% [markdown] lang="en"
# How do the two variants differ in parameters? (same tiny backbone, same 32 channels)

# %%
# NBVAL_CHECK_OUTPUT
for light in (False, True):
    model = rn.RefineNet(5, "tiny", light=light, channels=32)
    decoder = models.count_parameters(model) - models.count_parameters(model.backbone)
    print(f"light={light!s:5s} total {models.count_parameters(model):7d} | decoder {decoder:7d}")

# %% [markdown] lang="vi"
# ## 6. Đo cái giá: RefineNet trên ResNet-101 so với DeepLabV3 trên ResNet-101 giãn
#
# Bài báo RefineNet lập luận rằng ResNet giãn ở OS 8 "tốn rất nhiều" bộ nhớ và phép tính. Ta **đo** điều đó ở kích thước thật: batch 1, ảnh $512\times512$, 21 lớp (PASCAL VOC), trọng số ngẫu nhiên (`weights=None`, không tải gì về). Với mỗi mô hình:
#
# - **FLOPs** đếm bằng `src.profiling.count_flops` (một phép nhân-cộng tính là 2 FLOP), lan truyền xuôi và xuôi + ngược;
# - **bộ nhớ kích hoạt đỉnh** đo bằng `src.profiling.peak_memory`: tổng lớn nhất của các tensor được tạo ra trong lúc chạy và còn sống, không tính tham số và ảnh đầu vào. Lan truyền xuôi đo ở chế độ suy luận (`eval`, `no_grad`: tensor trung gian được giải phóng ngay); xuôi + ngược đo ở chế độ huấn luyện, khi mọi tensor cần cho gradient phải được giữ lại, và gradient của tham số cũng chiếm chỗ;
# - **độ trễ** một lần lan truyền xuôi trên CPU.
#
# Ở $512\times 512$ trên một CPU 2 lõi, phép đo mất hàng chục phút, nên nó nằm trong `experiments/refinenet_memory.py`; kịch bản này ghi kết quả vào `src/results/refinenet_memory.json` (đi kèm gói `src`) và ô dưới đây chỉ **đọc** tệp đó qua `src.record.load_json`, từ bất kỳ thư mục làm việc nào (số liệu do kịch bản đó đo, không phải do notebook này). Ngay sau đó notebook tự đo lại cùng phép so sánh ở kích thước nhỏ.

# %% [markdown] lang="en"
# ## 6. Measuring the price: RefineNet on a ResNet-101 against DeepLabV3 on a dilated ResNet-101
#
# The RefineNet paper argues that a dilated ResNet at OS 8 "costs a lot" of memory and computation. We **measure** it at the real size: batch 1, a $512\times512$ image, 21 classes (PASCAL VOC), random weights (`weights=None`, nothing downloaded). For each model:
#
# - **FLOPs** counted by `src.profiling.count_flops` (a multiply-add counts as 2 FLOPs), forward and forward + backward;
# - **peak activation memory** measured by `src.profiling.peak_memory`: the largest total of the tensors created during the call that are still alive, parameters and input excluded. The forward pass is measured in inference mode (`eval`, `no_grad`: intermediate tensors are freed at once); forward + backward in training mode, where every tensor needed for the gradients is kept, and the parameters' gradients take room too;
# - **latency** of one forward pass on the CPU.
#
# At $512\times 512$ on a 2-core CPU this takes tens of minutes, so it lives in `experiments/refinenet_memory.py`; the script writes `src/results/refinenet_memory.json` (shipped with the `src` package) and the cell below only **reads** that file through `src.record.load_json`, from any working directory (the figures were measured by the script, not by this notebook). Right after it, the notebook measures the same comparison itself at a small size.

# %%
from src import record

bench = record.load_json("refinenet_memory")  # read through the package, not the working directory
MiB, G = 2**20, 1e9
table = pd.DataFrame(
    {
        name: {
            "params (M)": row["params"] / 1e6,
            "GFLOPs fwd": row["flops_forward"] / G,
            "GFLOPs fwd+bwd": row["flops_forward_backward"] / G,
            "peak MiB fwd": row.get("memory_forward", np.nan) / MiB,
            "peak MiB fwd+bwd": row.get("memory_forward_backward", np.nan) / MiB,
            "latency fwd (s)": row.get("latency_forward_s", np.nan),
        }
        for name, row in bench["models"].items()
    }
).T
print(src.tr("Nguồn:", "Source:"), "src/results/refinenet_memory.json | input", bench["input"], "|", bench["machine"])
print(table.round(1).to_string())

# %% [markdown] lang="vi"
# Tỉ số giữa DeepLabV3 (OS 8) và hai biến thể RefineNet, tính từ bảng trên:

# %% [markdown] lang="en"
# The ratios between DeepLabV3 (OS 8) and the two RefineNet variants, computed from the table above:

# %%
deeplab_row = table.loc["deeplabv3_resnet101_os8"]
ratios = pd.DataFrame(
    {
        name: deeplab_row[["GFLOPs fwd", "GFLOPs fwd+bwd", "peak MiB fwd", "peak MiB fwd+bwd"]]
        / table.loc[name, ["GFLOPs fwd", "GFLOPs fwd+bwd", "peak MiB fwd", "peak MiB fwd+bwd"]]
        for name in ("refinenet_resnet101", "lw_refinenet_resnet101")
    }
).T
ratios.index = [f"DeepLabV3-OS8 / {name}" for name in ratios.index]
print(ratios.round(2).to_string())
backbone_ratio = table.loc["resnet101_os8", "GFLOPs fwd"] / table.loc["resnet101_os32", "GFLOPs fwd"]
print(
    src.tr("ResNet-101 riêng: GFLOPs OS 8 / OS 32 =", "ResNet-101 alone: GFLOPs OS 8 / OS 32 ="),
    record.format_number(backbone_ratio, 2),
)
for name, label in (("refinenet_resnet101", "RefineNet-101"), ("lw_refinenet_resnet101", "LW-RefineNet-101")):
    memory_ratio = ratios.loc[f"DeepLabV3-OS8 / {name}", "peak MiB fwd+bwd"]
    print(
        src.tr(
            f"Bộ nhớ huấn luyện (xuôi + ngược): DeepLabV3-OS8 cần gấp {record.format_number(memory_ratio, 2)} lần {label}.",
            f"Training memory (forward + backward): DeepLabV3-OS8 needs {record.format_number(memory_ratio, 2)} times that of {label}.",
        )
    )

# %%
shown = ["refinenet_resnet101", "lw_refinenet_resnet101", "deeplabv3_resnet101_os8"]
labels = ["RefineNet-101", "LW-RefineNet-101", "DeepLabV3-101 OS8"]
fig, axes = plt.subplots(1, 2, figsize=(8.5, 2.8))
for ax, cols, unit in (
    (axes[0], ["GFLOPs fwd", "GFLOPs fwd+bwd"], "GFLOPs"),
    (axes[1], ["peak MiB fwd", "peak MiB fwd+bwd"], "MiB"),
):
    pos = np.arange(len(shown))
    for i, (col, hatch) in enumerate(zip(cols, ("", "//"))):
        ax.bar(
            pos + (i - 0.5) * 0.38,
            table.loc[shown, col],
            0.38,
            hatch=hatch,
            label=col.split(" ", 1)[1] if " " in col else col,
        )
    ax.set_xticks(pos, labels, fontsize=7)
    ax.set_ylabel(unit)
    ax.legend(fontsize=7)
axes[0].set_title(src.tr("phép tính (512×512)", "compute (512×512)"), fontsize=9)
axes[1].set_title(src.tr("bộ nhớ kích hoạt đỉnh (512×512)", "peak activation memory (512×512)"), fontsize=9)
fig.tight_layout()

# %% [markdown] lang="vi"
# **Đọc kết quả.** Hãy đọc bảng và các tỉ số ở trên theo bốn điểm:
#
# 1. *Cái giá của việc giãn.* Dòng `resnet101_os8` so với `resnet101_os32`: riêng việc giãn mạng xương sống đã nhân số FLOPs lên nhiều lần (tỉ số in ở trên), gần như trọn trong `layer3` và `layer4`. Đây đúng là điều bài báo RefineNet nói tới.
# 2. *Bộ nhớ khi huấn luyện* (cột `peak MiB fwd+bwd`): DeepLabV3-OS8 cần nhiều bộ nhớ kích hoạt hơn cả hai biến thể RefineNet, vì 23 khối của `layer3` và các khối của `layer4` phải giữ lại kích hoạt ở 1/8 thay vì 1/16 và 1/32. Đây là lập luận chính của bài báo, và phép đo xác nhận nó.
# 3. *Phép tính của RefineNet đầy đủ không rẻ:* bộ giải mã chạy tích chập $3\times 3$ trên 256 kênh ở độ phân giải 1/4 (RCU, hợp nhất, CRP ở mọi tầng), nên tổng FLOPs của nó không thấp hơn DeepLabV3 (xem tỉ số); số tham số cũng lớn hơn nhiều (các RCU 512 kênh). RefineNet rút gọn, cùng mạng xương sống có bước trượt nhưng không RCU và chỉ dùng tích chập $1\times 1$, mới là biến thể rẻ hơn hẳn về phép tính (các cột `GFLOPs`) và về bộ nhớ khi huấn luyện (cột `peak MiB fwd+bwd`); còn ở suy luận, đỉnh bộ nhớ của nó vẫn cao hơn DeepLabV3-OS8 (cột `peak MiB fwd`, xem điểm 4). Để đối chiếu: bài báo Light-Weight RefineNet (Nekrasov và cộng sự, arXiv 1810.03272) báo cáo số tham số và FLOPs giảm hơn hai lần (phần tóm tắt); chúng tôi không kiểm tra được các con số trong bảng của bài báo, nên không trích chúng ở đây.
# 4. *Suy luận khác huấn luyện:* ở chế độ `no_grad`, mỗi tensor trung gian được giải phóng ngay khi lớp sau dùng xong, nên đỉnh bộ nhớ chỉ là vài bản đồ lớn nhất cùng lúc còn sống; khi đó các bản đồ 256 kênh ở 1/4 của bộ giải mã RefineNet có thể nặng hơn các bản đồ 1/8 của DeepLabV3 (cột `peak MiB fwd`). Giới hạn thực tế khi huấn luyện là bộ nhớ xuôi + ngược, lớn hơn nhiều lần.
#
# Độ trễ trong bảng được đo trên một CPU 2 lõi đang bị nhiều tiến trình khác dùng chung, nên chỉ mang tính tham khảo; FLOPs và bộ nhớ thì không phụ thuộc vào tải của máy.

# %% [markdown] lang="en"
# **Reading the results.** Read the table and the ratios above in four points:
#
# 1. *The price of dilation.* The `resnet101_os8` row against `resnet101_os32`: dilating the backbone alone multiplies the FLOPs several times (the ratio printed above), almost entirely in `layer3` and `layer4`. This is exactly what the RefineNet paper points at.
# 2. *Training memory* (column `peak MiB fwd+bwd`): DeepLabV3-OS8 needs more activation memory than both RefineNet variants, because the 23 blocks of `layer3` and the blocks of `layer4` keep their activations at 1/8 instead of 1/16 and 1/32. That is the paper's main argument, and the measurement confirms it.
# 3. *Full RefineNet's compute is not cheap:* its decoder runs $3\times 3$ convolutions on 256 channels at 1/4 resolution (RCUs, fusion, CRP at every stage), so its total FLOPs are not below DeepLabV3's (see the ratios); it also has many more parameters (the 512-channel RCUs). Light-Weight RefineNet, with the same strided backbone but no RCU and only $1\times 1$ convolutions, is the variant that is clearly cheaper in compute (the `GFLOPs` columns) and in training memory (column `peak MiB fwd+bwd`); at inference its peak memory is still above DeepLabV3-OS8's (column `peak MiB fwd`, see point 4). For comparison, the Light-Weight RefineNet paper (Nekrasov et al., arXiv 1810.03272) reports a more than twofold reduction in parameters and FLOPs (abstract); we could not check the numbers of the paper's table, so we do not quote them here.
# 4. *Inference differs from training:* under `no_grad` each intermediate tensor is freed as soon as the next layer has used it, so the peak is just the few largest maps alive at once; then the 256-channel 1/4-resolution maps of RefineNet's decoder can weigh more than DeepLabV3's 1/8 maps (column `peak MiB fwd`). The practical limit in training is forward + backward memory, several times larger.
#
# The latencies in the table were measured on a 2-core CPU shared with many other processes, so take them as indicative only; FLOPs and memory do not depend on the machine's load.

# %% [markdown] lang="vi"
# **Đo lại ngay trong notebook, ở kích thước nhỏ.** Cùng phép so sánh với mạng xương sống nhỏ của khoá học, ảnh $128\times128$, 5 lớp: RefineNet đầy đủ và rút gọn (32 kênh) so với DeepLabV3 ở OS 8 (64 kênh, hệ số giãn (2, 4, 6) như bài 03, nhỏ hơn cạnh của bản đồ $16\times16$ mà ảnh 128 điểm ảnh cho ở OS 8).

# %% [markdown] lang="en"
# **Measured again in this notebook, at a small size.** The same comparison with the course's tiny backbone, a $128\times128$ image, 5 classes: full and light-weight RefineNet (32 channels) against DeepLabV3 at OS 8 (64 channels, rates (2, 4, 6) as in lesson 03, below the side of the $16\times16$ map a 128-pixel image gives at OS 8).

# %%
src.seed_everything(0)
candidates = {
    "RefineNet (tiny)": lambda: rn.RefineNet(5, "tiny", light=False, channels=32),
    "LW-RefineNet (tiny)": lambda: rn.RefineNet(5, "tiny", light=True, channels=32),
    "DeepLabV3 (tiny, OS 8)": lambda: DeepLabV3(5, "tiny", output_stride=8, atrous_rates=(2, 4, 6), channels=64),
}
x128 = torch.randn(2, 3, 128, 128)
small = {}
for name, build in candidates.items():
    model = build()
    small[name] = {
        "params (k)": models.count_parameters(model) / 1e3,
        "MFLOPs fwd": profiling.count_flops(model.eval(), x128) / 1e6,
        "peak KiB fwd": profiling.peak_memory(model.eval(), x128) / 1024,
        "peak KiB fwd+bwd": profiling.peak_memory(model.train(), x128, backward=True) / 1024,
    }
small = pd.DataFrame(small).T
print(small.round(1).to_string())

# %% [markdown] lang="vi"
# So sánh bảng nhỏ này với bảng $512\times512$: với mạng xương sống nhỏ (ít kênh), phần đắt nhất không còn là `layer3`, `layer4` giãn mà là bộ giải mã làm việc ở độ phân giải 1/4, nên thứ tự về bộ nhớ có thể đảo ngược. Lập luận của RefineNet đúng khi mạng xương sống sâu và rộng như ResNet-101; luôn đo trên đúng cấu hình mình dùng.

# %% [markdown] lang="en"
# Compare this small table with the $512\times512$ one: with a tiny (narrow) backbone the most expensive part is no longer the dilated `layer3` and `layer4` but the decoder working at 1/4 resolution, so the memory ranking can flip. RefineNet's argument holds when the backbone is deep and wide like ResNet-101; always measure the configuration you actually use.

# %% [markdown] lang="vi"
# ## 7. Một phép so sánh có hạt giống ngẫu nhiên: RefineNet rút gọn so với DeepLabV3 giãn, cùng số tham số
#
# Lập luận của RefineNet không chỉ là chi phí: hợp nhất đặc trưng độ phân giải cao của các tầng đầu giúp vẽ lại những **chi tiết** mà một dự đoán ở output stride thô, rồi phóng to, không vẽ được. Trên bộ ảnh ghép vân (`mosaic`) của các bài trước, điều đó khó thấy: phần lớn điểm ảnh sai ở đó là cả những vùng bị gán nhầm vân (bài 00 đo xem lỗi nằm ở đâu), nên giới hạn có vẻ nằm ở việc *nhận ra* vân chứ không phải ở độ phân giải. Vì vậy ta dựng một bộ dữ liệu mà lợi ích của độ phân giải lớn **theo cách dựng**: `thin` (xem `data/README.md`). Trên một nền vân tối hơn có 2-4 nét thẳng mảnh (rộng 1,5-3 điểm ảnh ở ảnh 64 điểm ảnh, lớp `line`) và một đĩa lớn (lớp `disc`), cả hai tô cùng một vân sáng hơn: lớp chỉ do **độ rộng** quyết định, một dấu hiệu cục bộ; cái khó là vẽ một nét mảnh hơn một ô của output stride 8 (8 điểm ảnh).
#
# Hai mô hình, cùng mạng xương sống nhỏ (`tiny`), **cùng ngân sách tham số** (RefineNet ít hơn khoảng 1 %, bảng dưới):
#
# - DeepLabV3 trên mạng xương sống giãn tới OS 8 (bản đồ $8\times 8$), ASPP 32 kênh với các hệ số giãn co theo bản đồ (`src.aspp.scaled_atrous_rates(8)`, không nhánh nào bị thoái hoá (*degenerate*)), dự đoán ở 1/8 rồi phóng to song tuyến;
# - RefineNet rút gọn trên mạng xương sống có bước trượt (OS 32), 42 kênh, dự đoán ở 1/4 nhờ hợp nhất đặc trưng của `layer1`.
#
# Ngân sách được so là **số tham số**; FLOPs (lan truyền xuôi, batch 1, ảnh $64\times64$) được in bên cạnh để thấy cái giá của việc giãn. Thí nghiệm đầy đủ (`experiments/refinenet_vs_dilated.py`, 5 hạt giống, 256 ảnh huấn luyện, 10 epoch) được ghi trong `src/results/refinenet_thin.json`; ô tiếp theo chạy một phiên bản nhỏ (một hạt giống, ít ảnh và ít epoch hơn) và đặt nó cạnh bản ghi (trên GPU hoặc với `SRC_FULL=1`: giao thức đầy đủ).

# %% [markdown] lang="en"
# ## 7. A comparison over seeds: light-weight RefineNet against a dilated DeepLabV3, at matched parameters
#
# RefineNet's argument is not only about cost: fusing the high-resolution features of the early stages lets the decoder draw **detail** that a prediction made at a coarse output stride, then upsampled, cannot draw. On the texture mosaics (`mosaic`) of the earlier lessons this is hard to see: most wrong pixels there are whole regions given the wrong texture (lesson 00 measures where the errors lie), so recognising the texture, rather than resolution, looks like the limit. So we build data where the benefit of resolution is large **by construction**: `thin` (see `data/README.md`). On a darker background texture lie 2-4 thin straight strokes (1.5-3 px wide in a 64-px image, class `line`) and one large disc (class `disc`), both filled with the same brighter texture: the class is told by the **width** alone, a local cue; what is hard is to draw a stroke thinner than one cell of output stride 8 (8 pixels).
#
# Two models, the same tiny backbone (`tiny`), the **same parameter budget** (RefineNet has about 1 % fewer, table below):
#
# - DeepLabV3 on the backbone dilated to OS 8 (an $8\times 8$ map), a 32-channel ASPP with rates scaled to the map (`src.aspp.scaled_atrous_rates(8)`, no degenerate branch), predicting at 1/8 and upsampling bilinearly;
# - Light-Weight RefineNet on the strided backbone (OS 32), 42 channels, predicting at 1/4 by fusing the `layer1` features.
#
# The matched budget is the **parameter count**; FLOPs (forward, batch 1, a $64\times64$ image) are printed beside it to show the price of dilation. The full experiment (`experiments/refinenet_vs_dilated.py`, 5 seeds, 256 training images, 10 epochs) is recorded in `src/results/refinenet_thin.json`; the next cell runs a small version (one seed, fewer images and epochs) and puts it next to the record (on a GPU or with `SRC_FULL=1`: the full protocol).

# %%
from src import claims, metrics

budget = pd.DataFrame(claims.refinenet_budget()).T
budget["MFLOPs fwd"] = budget.pop("flops") / 1e6
print(budget.round(1).to_string())
dl_budget, rn_budget = budget.loc["DeepLabV3 (OS 8)"], budget.loc["LW-RefineNet"]
print(
    src.tr("LW-RefineNet / DeepLabV3: tham số", "LW-RefineNet / DeepLabV3: parameters"),
    record.format_number(rn_budget["params"] / dl_budget["params"], 3),
    "| FLOPs",
    record.format_number(rn_budget["MFLOPs fwd"] / dl_budget["MFLOPs fwd"], 2),
)

# %%
LIVE_SCALE = 1.0 if claims.full_protocol() else 0.35
live, thin_models, thin_val_loader = claims.run("refinenet_thin", seed=0, scale=LIVE_SCALE, return_models=True)
recorded = record.load("refinenet_thin")
recorded_live = recorded.data["live"]["groups"]
thin_claim = pd.DataFrame(
    {
        src.tr("lần chạy này (1 hạt giống)", "this run (1 seed)"): {
            g: record.format_number(v) for g, v in live.items()
        },
        src.tr("bản ghi, cùng cỡ nhỏ", "record, same small size"): {
            g: record.format_mean_std(recorded_live[g]) for g in live
        },
        src.tr("bản ghi, giao thức đầy đủ", "record, full protocol"): {
            g: record.format_mean_std(v) for g, v in recorded.groups.items()
        },
    }
)
thin_claim.index.name = "val mIoU"
print(recorded.verdict())
thin_claim

# %% [markdown] lang="vi"
# Dòng in phía trên bảng là kết luận của bản ghi: hiệu ứng chỉ được nêu khi thống kê $t$ của Welch qua 5 hạt giống đạt ít nhất 2. Hãy so cả lần chạy này với cột "bản ghi, cùng cỡ nhỏ": với 90 ảnh và 6 epoch, lần chạy trong notebook ngắn hơn nhiều so với giao thức đã ghi. Hiệu ứng nằm ở đâu? Ô dưới tính IoU của từng lớp và điểm F trên biên (*boundary F-score*: độ khớp của đường biên dự đoán với đường biên thật, sai lệch tối đa 2 điểm ảnh) trên tập kiểm định, cho hai mô hình vừa huấn luyện ở đây và cho hai mô hình của hạt giống 0 trong bản ghi (giao thức đầy đủ, trọng số fp16 đi kèm trong `src/results/checkpoints/`, đọc bằng `src.claims.refinenet_thin_models()`); hình sau đó vẽ dự đoán của các mô hình đã ghi trên ba ảnh kiểm định (điểm ảnh sai tô vàng, màu không lớp nào dùng).

# %% [markdown] lang="en"
# The line printed above the table is the record's verdict: the effect is stated only when Welch's $t$ over 5 seeds is at least 2. Compare also this run with the "record, same small size" column: with 90 images and 6 epochs the notebook's run is much shorter than the recorded protocol. Where does the effect lie? The cell below computes the IoU of each class and the boundary F-score (how well the predicted boundaries match the true ones, within 2 pixels) on the validation set, for the two models just trained here and for the two models of the record's seed 0 (full protocol, fp16 weights shipped in `src/results/checkpoints/`, read by `src.claims.refinenet_thin_models()`); the figure then draws the recorded models' predictions on three validation images (wrong pixels in yellow, a colour no class uses).

# %%
thin_val = thin_val_loader.dataset
val_images = torch.stack([thin_val[i][0] for i in range(len(thin_val))])
val_masks = torch.from_numpy(thin_val.masks.astype(np.int64))
recorded_models = claims.refinenet_thin_models()
sources = {
    src.tr("lần chạy này", "this run"): thin_models,
    src.tr("bản ghi, hạt giống 0", "record, seed 0"): recorded_models,
}
thin_preds, per_class = {}, {}
for source, trained_models in sources.items():
    for name, model in trained_models.items():
        pred = train.predict(model, val_images)
        iou = metrics.per_class_iou(pred, val_masks, thin_val.num_classes)
        row = {f"IoU {c}": float(v) for c, v in zip(thin_val.classes, iou)}
        row["mIoU"] = float(iou.mean())
        row["boundary F"] = metrics.boundary_f1(pred, val_masks)
        per_class[(source, name)] = row
        if trained_models is recorded_models:
            thin_preds[name] = pred
per_class = pd.DataFrame(per_class).T
print(per_class.round(3).to_string())
recorded_rows = per_class.xs(src.tr("bản ghi, hạt giống 0", "record, seed 0"))
gap = recorded_rows.loc["LW-RefineNet"] - recorded_rows.loc["DeepLabV3 (OS 8)"]
print(
    src.tr("Bản ghi, hạt giống 0, LW-RefineNet trừ DeepLabV3:", "Record, seed 0, LW-RefineNet minus DeepLabV3:"),
    ", ".join(f"{k} {record.format_number(float(v), 3)}" for k, v in gap.items()),
)

# %%
show = [0, 1, 2]
columns = [
    src.tr("ảnh", "image"),
    src.tr("nhãn thật", "ground truth"),
    *(f"{name}\n({src.tr('bản ghi, hạt giống 0', 'record, seed 0')})" for name in thin_preds),
]
fig, axes = plt.subplots(len(show), len(columns), figsize=(8.6, 6.6), layout="constrained", squeeze=False)
for row, i in enumerate(show):
    panels = [thin_val.images[i], viz.colorize(thin_val.masks[i], thin_val.palette)]
    for name in thin_preds:
        pred = thin_preds[name][i].numpy()
        panel = viz.colorize(pred, thin_val.palette)
        panel[pred != thin_val.masks[i]] = viz.ERROR_COLOUR
        panels.append(panel)
    for col, (ax, panel) in enumerate(zip(axes[row], panels)):
        ax.imshow(panel)
        ax.set_axis_off()
        if row == 0:
            ax.set_title(columns[col], fontsize=9)
fig.legend(
    handles=viz.legend_handles(
        [*thin_val.class_names, src.tr("sai", "wrong")], np.vstack([thin_val.palette, viz.ERROR_COLOUR])
    ),
    loc="outside lower center",
    ncol=4,
    fontsize=8,
)

# %% [markdown] lang="vi"
# **Đọc kết quả.** Kết luận nằm ở dòng in trên bảng bản ghi (5 hạt giống, thống kê $t$ của Welch), không ở một lần chạy. Bảng theo lớp cho biết lợi ích đến từ đâu: ở các dòng của bản ghi, hãy so cột `IoU line` (các nét mảnh hơn một ô của OS 8) với cột `IoU disc` (một vùng lớn, ô 8 điểm ảnh không phải là giới hạn) và với dòng hiệu số in ngay dưới bảng. Trên hình, đĩa được cả hai mô hình tô gần đúng, chỗ sai (màu vàng) của chúng chỉ là một dải mỏng quanh biên đĩa; khác biệt nằm ở các **nét mảnh**: DeepLabV3 dự đoán ở 1/8 rồi phóng to song tuyến nên gần như không vẽ được nét nào (các nét vàng trọn vẹn), còn RefineNet, nhờ đặc trưng 1/4 của `layer1`, vẽ lại được từng đoạn nét, dù còn xa mới hoàn hảo. Cột điểm F trên biên cho thấy cùng điều đó. Ở lần chạy ngắn trong notebook, hãy xem cột `IoU line` của các dòng "lần chạy này": với rất ít bước huấn luyện, các mô hình hầu như chưa học được cách vẽ nét, nên chênh lệch còn nhỏ (so với cột "bản ghi, cùng cỡ nhỏ"); hiệu ứng lớn cần giao thức đầy đủ. Cuối cùng, cùng ngân sách tham số, RefineNet chỉ tốn khoảng một nửa số FLOPs (bảng ngân sách ở trên): giãn mạng xương sống làm mọi tầng sau chạy trên bản đồ lớn hơn, trong khi bộ giải mã rút gọn gần như chỉ dùng tích chập $1\times 1$.

# %% [markdown] lang="en"
# **Reading the results.** The conclusion is the line printed above the record's table (5 seeds, Welch's $t$), not a single run. The per-class table says where the gain comes from: in the record's rows, compare the `IoU line` column (strokes thinner than one OS-8 cell) with the `IoU disc` column (a large region, where an 8-pixel cell is not the limit), and with the difference printed right below the table. In the figure both models paint the disc about right, their errors (yellow) there are a thin band around its edge; the difference lies in the **thin strokes**: DeepLabV3 predicts at 1/8 and upsamples bilinearly, so it draws almost none of the strokes (they are yellow from end to end), while RefineNet, with the 1/4 features of `layer1`, draws stretches of them back, though far from perfectly. The boundary F column says the same. In the notebook's short run, look at the `IoU line` column of the "this run" rows: with very few training steps the models have hardly learned to draw strokes yet, so the difference is still small (compare the "record, same small size" column); the large effect needs the full protocol. Finally, at the same parameter budget RefineNet costs only about half the FLOPs (the budget table above): dilating the backbone makes every later stage run on a larger map, while the light-weight decoder uses almost only $1\times 1$ convolutions.

# %% [markdown] lang="vi"
# ## Ghi nhớ
#
# - ResNet có bước trượt rẻ nhưng thô (OS 32); ResNet giãn giữ độ phân giải (OS 8) nhưng chi phí của `layer3`, `layer4` tăng theo số điểm ảnh: 4 và 16 lần.
# - RefineNet đi ngược lên bằng một chuỗi xếp tầng 4 khối; mỗi khối gồm RCU (điều chỉnh đặc trưng), hợp nhất đa độ phân giải (tích chập, phóng to tới **đúng** kích thước, cộng) và CRP (chuỗi gộp $5\times5$ + tích chập, cộng dồn, cho ngữ cảnh rộng).
# - Đo, đừng trích dẫn: bảng ở mục 6 cho thấy cái giá bộ nhớ khi huấn luyện của ResNet giãn là có thật, nhưng một bộ giải mã nặng (RefineNet đầy đủ) cũng tốn nhiều phép tính; RefineNet rút gọn (tích chập $1\times1$, không RCU) mới thật sự rẻ về phép tính và bộ nhớ khi huấn luyện (ở suy luận, đỉnh bộ nhớ của nó vẫn cao hơn DeepLabV3-OS8).
# - Bộ nhớ huấn luyện (xuôi + ngược) mới là giới hạn thực tế, lớn hơn bộ nhớ suy luận rất nhiều.
# - Cùng ngân sách tham số, trên những nét mảnh hơn output stride 8, bộ giải mã 1/4 của RefineNet rút gọn cho mIoU cao hơn DeepLabV3 ở OS 8 (đo qua 5 hạt giống, mục 7), với khoảng một nửa số FLOPs: điều bộ giải mã đa độ phân giải mang lại là chi tiết, không chỉ là bộ nhớ.

# %% [markdown] lang="en"
# ## Key takeaways
#
# - A strided ResNet is cheap but coarse (OS 32); a dilated ResNet keeps resolution (OS 8) but the cost of `layer3` and `layer4` grows with their pixel count: 4 and 16 times.
# - RefineNet climbs back up with a 4-cascade; each block has RCUs (adapting features), multi-resolution fusion (convolve, upsample to the **exact** size, sum) and CRP (a chain of $5\times5$ pooling + convolution, summed, for wide context).
# - Measure, don't quote: the table of section 6 shows that the training-memory price of a dilated ResNet is real, but a heavy decoder (full RefineNet) costs a lot of compute too; Light-Weight RefineNet ($1\times1$ convolutions, no RCU) is the truly cheap one in compute and training memory (at inference its peak memory is still above DeepLabV3-OS8's).
# - Training memory (forward + backward) is the practical limit, far above inference memory.
# - At the same parameter budget, on strokes thinner than output stride 8, Light-Weight RefineNet's 1/4 decoder reaches a higher mIoU than DeepLabV3 at OS 8 (measured over 5 seeds, section 7), at about half the FLOPs: what the multi-resolution decoder buys is detail, not only memory.

# %% [markdown] lang="vi"
# ## Tài liệu tham khảo
#
# - G. Lin, A. Milan, C. Shen, I. Reid. *RefineNet: Multi-Path Refinement Networks for High-Resolution Semantic Segmentation.* CVPR 2017. arXiv 1611.06612.
# - V. Nekrasov, C. Shen, I. Reid. *Light-Weight RefineNet for Real-Time Semantic Segmentation.* BMVC 2018. arXiv 1810.03272.
# - L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. *Rethinking Atrous Convolution for Semantic Image Segmentation* (DeepLabv3). arXiv 1706.05587.
# - K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition.* CVPR 2016. arXiv 1512.03385.

# %% [markdown] lang="en"
# ## References
#
# - G. Lin, A. Milan, C. Shen, I. Reid. *RefineNet: Multi-Path Refinement Networks for High-Resolution Semantic Segmentation.* CVPR 2017. arXiv 1611.06612.
# - V. Nekrasov, C. Shen, I. Reid. *Light-Weight RefineNet for Real-Time Semantic Segmentation.* BMVC 2018. arXiv 1810.03272.
# - L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. *Rethinking Atrous Convolution for Semantic Image Segmentation* (DeepLabv3). arXiv 1706.05587.
# - K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition.* CVPR 2016. arXiv 1512.03385.
