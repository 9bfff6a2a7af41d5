# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   lesson:
#     summary:
#       vi: "Squeeze-and-Excitation: khối SE, SE-ResNet, scSE, SE trong mô hình phân vùng"
#       en: "Squeeze-and-Excitation: the block, SE-ResNet, scSE, SE inside a segmentation model"
# ---

# %% [markdown] lang="vi"
# # Bài 06 — Squeeze-and-Excitation: cân lại các kênh bằng một cổng học được
#
# **Mục tiêu của bài**
#
# 1. Hiểu khối SE: nén (*squeeze*) mỗi kênh thành một số, kích thích (*excitation*) bằng hai phép tích chập 1x1, rồi nhân từng kênh với một cổng (*gate*) trong $(0, 1)$.
# 2. Giải thích vì sao cổng dùng sigmoid chứ không phải softmax.
# 3. Tính chi phí tham số của SE bằng công thức, rồi kiểm tra bằng cách đếm trên ResNet-50 và SE-ResNet-50.
# 4. Nhận ra một lỗi hay gặp: phép gộp với cửa sổ vuông chỉ đúng khi ảnh vuông.
# 5. Viết SE theo không gian (sSE) và scSE cho bộ giải mã (*decoder*) của mô hình phân vùng.
# 6. Đặt SE vào DeepLabV3 trên bộ dữ liệu ghép vân, đo mIoU, số tham số, thời gian, và xem các cổng học được gì cho từng lớp.

# %% [markdown] lang="en"
# # Lesson 06 — Squeeze-and-Excitation: re-weighting channels with a learned gate
#
# **Goals**
#
# 1. Understand the SE block: *squeeze* each channel to one number, *excite* with two 1x1 convolutions, then multiply every channel by a gate in $(0, 1)$.
# 2. Explain why the gate is a sigmoid and not a softmax.
# 3. Compute SE's parameter overhead with a formula, then check it by counting ResNet-50 and SE-ResNet-50.
# 4. Spot a common bug: pooling with a square window is right only for square images.
# 5. Write spatial SE (sSE) and scSE for the decoder of a segmentation model.
# 6. Put SE into DeepLabV3 on the texture mosaics, measure mIoU, parameters and time, and look at what the gates learn for each class.

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch
import torchvision

from src import checks, data, models, profiling, se, train
from src.deeplab import DeepLabV3

src.seed_everything(0)
torch.set_num_threads(1)  # tiny models: one thread is as fast, and robust on a shared CPU
device = src.get_device()
print(device)

# %% [markdown] lang="vi"
# ## 1. Ý tưởng: một cổng cho mỗi kênh
#
# Một lớp tích chập trộn thông tin **trong** một vùng lân cận nhỏ và cộng dồn qua mọi kênh với trọng số cố định sau khi học. Nó không có cách nào nói "với ảnh *này*, kênh 7 quan trọng hơn kênh 12". Hu và cộng sự (2017) thêm đúng khả năng đó bằng một khối rất nhỏ, Squeeze-and-Excitation (SE), một dạng chú ý theo kênh (*channel attention*). Với bản đồ đặc trưng (*feature map*) $U \in \mathbb{R}^{C \times H \times W}$:
#
# 1. **Nén** bằng gộp trung bình toàn cục (*global average pooling*): $z_c = \dfrac{1}{HW} \sum_{i=1}^{H} \sum_{j=1}^{W} u_c(i, j)$, một số cho mỗi kênh — một "bản tóm tắt" của cả ảnh.
# 2. **Kích thích**: $s = \sigma\big(W_2\, \delta(W_1 z + b_1) + b_2\big)$, với $W_1 \in \mathbb{R}^{\frac{C}{r} \times C}$ (thu hẹp theo hệ số giảm $r$, *reduction ratio*), $\delta$ là ReLU, $W_2 \in \mathbb{R}^{C \times \frac{C}{r}}$, $\sigma$ là sigmoid. Trong mã, $W_1, W_2$ là hai phép tích chập 1x1.
# 3. **Cân lại** (*recalibration*): $\tilde u_c = s_c \cdot u_c$ — mỗi kênh được nhân với cổng $s_c \in (0, 1)$ của nó.
#
# Cổng $s$ phụ thuộc vào **nội dung của ảnh**, nên cùng một mạng có thể bật kênh "vân gạch" với ảnh nhiều gạch và tắt nó với ảnh toàn cỏ. Trong SE-ResNet, khối SE đặt ở cuối nhánh phần dư (*residual branch*), **trước** phép cộng với nhánh đồng nhất, với $r = 16$.

# %% [markdown] lang="en"
# ## 1. The idea: one gate per channel
#
# A convolution mixes information **within** a small neighbourhood and sums over all channels with weights that are fixed once trained. It has no way to say "for *this* image, channel 7 matters more than channel 12". Hu et al. (2017) add exactly that ability with a tiny block, Squeeze-and-Excitation (SE), a form of channel attention. For a feature map $U \in \mathbb{R}^{C \times H \times W}$:
#
# 1. **Squeeze** by global average pooling: $z_c = \dfrac{1}{HW} \sum_{i=1}^{H} \sum_{j=1}^{W} u_c(i, j)$, one number per channel — a summary of the whole image.
# 2. **Excite**: $s = \sigma\big(W_2\, \delta(W_1 z + b_1) + b_2\big)$, with $W_1 \in \mathbb{R}^{\frac{C}{r} \times C}$ (narrowing by the reduction ratio $r$), $\delta$ the ReLU, $W_2 \in \mathbb{R}^{C \times \frac{C}{r}}$, $\sigma$ the sigmoid. In code, $W_1$ and $W_2$ are two 1x1 convolutions.
# 3. **Recalibrate**: $\tilde u_c = s_c \cdot u_c$ — every channel is multiplied by its gate $s_c \in (0, 1)$.
#
# The gate $s$ depends on the **image content**, so the same network can turn a "brick texture" channel up for an image full of bricks and down for one full of grass. In SE-ResNet the block sits at the end of the residual branch, **before** the addition with the identity path, with $r = 16$.

# %% [markdown] lang="vi"
# `src.se.SEBlock(input_channels, internal_neurons)` viết đúng ba bước đó; cổng do mô-đun con `sigmoid` tính ra, nên ta có thể "móc" (*hook*) vào để xem nó. Sau khi chép trọng số, khối này cho đúng kết quả của `torchvision.ops.SqueezeExcitation` — kể cả trên bản đồ không vuông.

# %% [markdown] lang="en"
# `src.se.SEBlock(input_channels, internal_neurons)` writes exactly those three steps; the gate is computed by the `sigmoid` submodule, so we can hook it to look at it. Once the weights are copied, the block gives exactly what `torchvision.ops.SqueezeExcitation` gives — non-square maps included.

# %%
# NBVAL_CHECK_OUTPUT
block = se.SEBlock(input_channels=32, internal_neurons=8)
print(block)
reference = torchvision.ops.SqueezeExcitation(32, 8)
reference.fc1.load_state_dict(block.down.state_dict())
reference.fc2.load_state_dict(block.up.state_dict())
x = torch.randn(2, 32, 24, 40)  # H != W on purpose
print("same output as torchvision:", torch.allclose(block(x), reference(x), atol=1e-6))
print("gate shape:", tuple(block.gate(x).shape))

# %% [markdown] lang="vi"
# ### Vì sao sigmoid mà không phải softmax?
#
# Softmax bắt các kênh **cạnh tranh** nhau: tổng các cổng bằng 1, nên khi một kênh được tăng thì những kênh khác buộc phải giảm, và với $C$ kênh thì cổng trung bình chỉ là $1/C$ — toàn bộ bản đồ đặc trưng bị thu nhỏ đi $C$ lần. SE muốn điều khác: **nhiều** kênh có thể cùng quan trọng (một ảnh có cả gạch lẫn sỏi), và mỗi kênh được quyết định độc lập. Sigmoid cho mỗi kênh một cổng riêng trong $(0, 1)$, không ràng buộc tổng. Ô dưới so sánh hai lựa chọn trên cùng một vectơ điểm số.

# %% [markdown] lang="en"
# ### Why a sigmoid and not a softmax?
#
# A softmax makes channels **compete**: the gates sum to 1, so raising one channel forces the others down, and with $C$ channels the average gate is only $1/C$ — the whole feature map shrinks $C$-fold. SE wants something else: **several** channels may matter at once (an image with both bricks and gravel), each decided on its own. A sigmoid gives every channel its own gate in $(0, 1)$, with no constraint on the sum. The cell below compares the two on the same vector of scores.

# %%
# NBVAL_CHECK_OUTPUT
scores = torch.tensor([2.0, 2.0, 1.5, -1.0, -2.0, 0.5, 2.5, -0.5])  # two or three channels deserve to stay on
for name, gate in [("sigmoid", torch.sigmoid(scores)), ("softmax", torch.softmax(scores, 0))]:
    gates = src.format_value(gate.tolist(), 3)  # decimal commas in Vietnamese, like every print below
    print(src.decimal_commas(f"{name:8s} gates={gates}  sum={gate.sum():.3f}  kept>0.5: {int((gate > 0.5).sum())}"))

# %% [markdown] lang="vi"
# Với sigmoid, mọi kênh có điểm số dương rõ rệt đều giữ được phần lớn giá trị của nó (điểm số từ 1,5 trở lên cho cổng trên 0,8); với softmax, ngay cả kênh mạnh nhất cũng bị nhân với một số nhỏ hơn nhiều so với 1, và không kênh nào vượt ngưỡng 0,5 khi có vài kênh mạnh ngang nhau.
#
# ### Bài tập 06-1 — Lượt truyền xuôi của SE
#
# Viết `se_forward(x, w_down, b_down, w_up, b_up)`: `x` có kích thước $N \times C \times H \times W$, `w_down` là ma trận $\frac{C}{r} \times C$, `w_up` là $C \times \frac{C}{r}$. Trả về `x` đã được cân lại. Không dùng `nn.Module`; chỉ cần `mean`, phép nhân ma trận, `relu`, `sigmoid`. Chú ý: bản đồ có thể **không vuông**.

# %% [markdown] lang="en"
# With a sigmoid, every channel with a clearly positive score keeps most of its value (scores of 1.5 and more give gates above 0.8); with a softmax, even the strongest channel is multiplied by a number far below 1, and no channel passes 0.5 when a few are equally strong.
#
# ### Exercise 06-1 — The SE forward pass
#
# Write `se_forward(x, w_down, b_down, w_up, b_up)`: `x` is $N \times C \times H \times W$, `w_down` a $\frac{C}{r} \times C$ matrix, `w_up` a $C \times \frac{C}{r}$ one. Return the recalibrated `x`. No `nn.Module`; `mean`, matrix products, `relu` and `sigmoid` are enough. Careful: the map may be **non-square**.


# %%
def se_forward(x, w_down, b_down, w_up, b_up):
    ### BEGIN SOLUTION
    s = x.mean(dim=(2, 3))  # squeeze over the whole H x W: N x C
    z = torch.relu(s @ w_down.t() + b_down)  # N x C/r
    gate = torch.sigmoid(z @ w_up.t() + b_up)  # N x C
    return x * gate[:, :, None, None]
    ### END SOLUTION


# %%
result = checks.check_se_forward(se_forward)

# %% [markdown] lang="vi"
# ## 2. Lỗi gộp trên ảnh không vuông
#
# Bài viết tiếng Việt về SE, điểm xuất phát của khoá học này (và cả mã của RepVGG, Ding và cộng sự, arXiv 2101.03697, cùng nhiều kho mã chép lại) nén bằng
#
# ```python
# x = F.avg_pool2d(inputs, kernel_size=inputs.size(3))   # cửa sổ W x W
# ...
# x = x.view(-1, self.input_channels, 1, 1)
# ```
#
# Cửa sổ có cạnh bằng **chiều rộng** $W$. Khi $H = W$ nó đúng là gộp toàn cục. Khi $H \ne W$ thì không:
#
# - $W < H < 2W$: chỉ $W$ hàng **đầu tiên** được lấy trung bình, phần dưới bị bỏ qua — sai mà không báo lỗi;
# - $H \ge 2W$: ra $\lfloor H / W \rfloor$ giá trị cho mỗi kênh, và `view(-1, C, 1, 1)` biến chúng thành các "ảnh" thừa trong batch: đầu ra có **kích thước batch sai**;
# - $H < W$: cửa sổ lớn hơn ảnh, PyTorch báo lỗi.
#
# Ảnh trong phân vùng thường không vuông (ảnh Cityscapes có kích thước 1024x2048), nên lỗi này có thật. Ô dưới dựng một bản đồ $48 \times 32$ mà 32 hàng trên bằng 0, 16 hàng dưới bằng 1, rồi so sánh hai cách nén; sau đó thử một bản đồ cao $64 \times 16$ và một bản đồ rộng $16 \times 64$. `se.buggy_squeeze` chép lại đúng dòng mã của bài viết.

# %% [markdown] lang="en"
# ## 2. The pooling bug on non-square images
#
# The Vietnamese SE post this course grows from (and RepVGG's code, Ding et al., arXiv 2101.03697, with the many repositories that copy it) squeezes with
#
# ```python
# x = F.avg_pool2d(inputs, kernel_size=inputs.size(3))   # a W x W window
# ...
# x = x.view(-1, self.input_channels, 1, 1)
# ```
#
# The window's side is the **width** $W$. When $H = W$ it is global pooling. When $H \ne W$ it is not:
#
# - $W < H < 2W$: only the **first** $W$ rows are averaged, the rest is ignored — silently wrong;
# - $H \ge 2W$: it returns $\lfloor H / W \rfloor$ values per channel, and `view(-1, C, 1, 1)` turns them into extra "images" of the batch: the output has the **wrong batch size**;
# - $H < W$: the window is larger than the map and PyTorch raises.
#
# Segmentation images are often non-square (Cityscapes images are 1024x2048), so the bug is real. The cell below builds a $48 \times 32$ map whose top 32 rows are 0 and bottom 16 rows are 1, and compares the two squeezes; then it tries a tall $64 \times 16$ map and a wide $16 \times 64$ one. `se.buggy_squeeze` reproduces the post's line exactly.

# %%
# NBVAL_CHECK_OUTPUT
x = torch.zeros(1, 3, 48, 32)
x[:, :, 32:] = 1.0  # bottom third is 1: the true channel mean is 16 / 48
print("right squeeze  x.mean((2, 3))      :", src.format_value(x.mean((2, 3)).flatten().tolist(), 4))
print("post's squeeze avg_pool2d(k = W)   :", src.format_value(se.buggy_squeeze(x).flatten().tolist(), 4))

tall = torch.randn(1, 3, 64, 16)
pooled = se.buggy_squeeze(tall)
print("tall 64x16: pooled shape", tuple(pooled.shape), "-> gate batch", tuple(pooled.view(-1, 3, 1, 1).shape))
print(
    "            post's output shape", tuple((tall * pooled.view(-1, 3, 1, 1)).shape), "instead of", tuple(tall.shape)
)
try:
    se.buggy_squeeze(torch.randn(1, 3, 16, 64))
except RuntimeError as error:
    print("wide 16x64:", type(error).__name__)
print(
    "SEBlock on all three keeps the shape:",
    [tuple(se.SEBlock(3, 1)(t).shape) for t in (x, tall, torch.randn(1, 3, 16, 64))],
)

# %% [markdown] lang="vi"
# Trung bình đúng của mỗi kênh là $16/48 \approx 0{,}333$, nhưng cách nén của bài viết trả về 0: nó chỉ nhìn thấy phần vuông phía trên. Với bản đồ cao, đầu ra có 4 "ảnh" thay vì 1. Cách sửa là gộp trên **cả hai** chiều: `x.mean((2, 3))`, hoặc `nn.AdaptiveAvgPool2d(1)` như `SEBlock` và torchvision, hoặc `F.avg_pool2d(x, kernel_size=x.shape[2:])`.

# %% [markdown] lang="en"
# The true per-channel mean is $16/48 \approx 0.333$, but the post's squeeze returns 0: it only sees the top square. With the tall map the output holds 4 "images" instead of 1. The fix is to pool over **both** dimensions: `x.mean((2, 3))`, or `nn.AdaptiveAvgPool2d(1)` as `SEBlock` and torchvision do, or `F.avg_pool2d(x, kernel_size=x.shape[2:])`.

# %% [markdown] lang="vi"
# ## 3. SE tốn bao nhiêu tham số?
#
# Một khối SE trên $C$ kênh với hệ số giảm $r$ có hai phép tích chập 1x1 có bias: $C \to C' \to C$ với $C' = \max(1, \lfloor C/r \rfloor)$. Số tham số thêm vào là
#
# $$P_{\text{SE}}(C) = \underbrace{2\,C\,C'}_{\text{trọng số}} + \underbrace{C' + C}_{\text{bias}} \approx \frac{2C^2}{r}.$$
#
# Cả mạng có $N_s$ khối ở tầng $s$ với độ rộng $C_s$, nên Hu và cộng sự ghi phần trọng số là $\dfrac{2}{r} \sum_s N_s C_s^2$. Chi phí này dồn vào các tầng **cuối** (nơi $C_s$ lớn nhất), còn chi phí tính toán thì nhỏ: khối SE làm việc trên $C$ số, không phải trên $C \times H \times W$.
#
# ### Bài tập 06-2 — Công thức chi phí tham số
#
# Viết `se_overhead(channels, reduction)`: `channels` là danh sách độ rộng $C$ của từng khối SE; trả về tổng số tham số (cả bias) mà các khối đó thêm vào, với $C' = \max(1, C // r)$.

# %% [markdown] lang="en"
# ## 3. How many parameters does SE cost?
#
# An SE block on $C$ channels with reduction $r$ has two 1x1 convolutions with bias: $C \to C' \to C$ with $C' = \max(1, \lfloor C/r \rfloor)$. It adds
#
# $$P_{\text{SE}}(C) = \underbrace{2\,C\,C'}_{\text{weights}} + \underbrace{C' + C}_{\text{biases}} \approx \frac{2C^2}{r}$$
#
# parameters. A network has $N_s$ blocks of width $C_s$ in stage $s$, so Hu et al. write the weight part as $\dfrac{2}{r} \sum_s N_s C_s^2$. The cost piles up in the **last** stages (where $C_s$ is largest), while the compute cost is small: the block works on $C$ numbers, not on $C \times H \times W$.
#
# ### Exercise 06-2 — The parameter-overhead formula
#
# Write `se_overhead(channels, reduction)`: `channels` lists the width $C$ of every SE block; return the total number of parameters (biases included) those blocks add, with $C' = \max(1, C // r)$.


# %%
def se_overhead(channels, reduction=16):
    ### BEGIN SOLUTION
    total = 0
    for c in channels:
        hidden = max(1, c // reduction)
        total += 2 * c * hidden + hidden + c
    return total
    ### END SOLUTION


# %%
result = checks.check_se_overhead(se_overhead)

# %% [markdown] lang="vi"
# Bây giờ đếm thật. `se.se_resnet50()` dựng ResNet-50 của torchvision (không tải trọng số) rồi đặt một `SEBlock` vào cuối nhánh phần dư của mỗi khối Bottleneck. Ô dưới đếm tham số của ResNet-18/50 và bản SE của chúng, so phần chênh lệch với công thức (dùng hàm tham chiếu `se.se_parameter_overhead`), và đếm FLOPs của một lượt truyền xuôi trên ảnh $224 \times 224$ bằng `src.profiling.count_flops` (chỉ tính tích chập và phép nhân ma trận).

# %% [markdown] lang="en"
# Now count for real. `se.se_resnet50()` builds torchvision's ResNet-50 (no weights downloaded) and puts an `SEBlock` at the end of the residual branch of every Bottleneck. The cell below counts the parameters of ResNet-18/50 and their SE versions, compares the difference with the formula (the reference `se.se_parameter_overhead`), and counts the FLOPs of one forward pass on a $224 \times 224$ image with `src.profiling.count_flops` (convolutions and matrix products only).

# %%
# NBVAL_CHECK_OUTPUT
stages = {18: ([2, 2, 2, 2], [64, 128, 256, 512]), 50: ([3, 4, 6, 3], [256, 512, 1024, 2048])}
image = torch.randn(1, 3, 224, 224)
rows = []
for depth, (blocks, widths) in stages.items():
    plain = getattr(torchvision.models, f"resnet{depth}")(weights=None).eval()
    with_se = getattr(se, f"se_resnet{depth}")().eval()
    p0, p1 = models.count_parameters(plain), models.count_parameters(with_se)
    formula = se.se_parameter_overhead([c for n, c in zip(blocks, widths) for _ in range(n)], reduction=16)
    f0, f1 = profiling.count_flops(plain, image), profiling.count_flops(with_se, image)
    rows.append(
        {
            "model": f"ResNet-{depth}",
            "params": p0,
            "SE params": p1,
            "extra": p1 - p0,
            "formula": formula,
            "extra %": round(100 * (p1 - p0) / p0, 2),
            "GFLOPs": round(f0 / 1e9, 3),
            "SE GFLOPs": round(f1 / 1e9, 3),
        }
    )
    del plain, with_se
overhead_table = pd.DataFrame(rows).set_index("model")
print(overhead_table.to_string())

# %% [markdown] lang="vi"
# Cột `extra` (đếm thật) trùng với cột `formula` (công thức). Với ResNet-50, bảng cho thấy SE thêm khoảng một phần mười số tham số — khớp với con số Hu và cộng sự báo cáo (khoảng 2,5 triệu tham số, khoảng 10 %) — trong khi số FLOPs gần như không đổi. Bài báo cũng cho thấy có thể bỏ SE ở tầng cuối (nơi tốn tham số nhất) mà chỉ mất rất ít độ chính xác.

# %% [markdown] lang="en"
# The `extra` column (counted) matches the `formula` column. For ResNet-50 the table shows SE adding about a tenth of the parameters — in line with what Hu et al. report (about 2.5 million parameters, roughly 10 %) — while the FLOPs barely move. The paper also shows that SE can be dropped from the last stage (where it costs the most parameters) at a very small loss of accuracy.

# %% [markdown] lang="vi"
# ## 4. SE theo không gian và scSE
#
# SE của Hu và cộng sự hỏi "kênh **nào** quan trọng?" và trả lời một lần cho cả ảnh. Trong phân vùng, câu hỏi "điểm ảnh **nào** quan trọng?" cũng có ý nghĩa. Roy, Navab và Wachinger (2018) đề xuất:
#
# - **cSE** (*channel SE*): chính là khối SE ở trên (trong bài báo của họ $r = 2$);
# - **sSE** (*spatial SE*): nén theo **kênh** bằng một tích chập 1x1 từ $C$ kênh xuống 1 kênh, rồi kích thích theo không gian: $q(i, j) = \sigma\big(\sum_c w_c\, u_c(i, j) + b\big)$ và $\hat u_c(i, j) = q(i, j)\, u_c(i, j)$ — mỗi điểm ảnh một cổng, chung cho mọi kênh;
# - **scSE**: cộng hai cách cân lại, $\text{scSE}(U) = \text{cSE}(U) + \text{sSE}(U)$.
#
# Họ đặt scSE sau các khối của bộ mã hoá - bộ giải mã (*encoder-decoder*) như U-Net và thấy lợi ích ổn định với rất ít tham số: sSE chỉ có $C + 1$ tham số.
#
# ### Bài tập 06-3 — SE theo không gian
#
# Viết `spatial_se(x, weight, bias)`: `x` là $N \times C \times H \times W$, `weight` là vectơ $C$ phần tử (trọng số của tích chập 1x1), `bias` là một số (tensor một phần tử). Trả về $x$ nhân với cổng $q$ của từng điểm ảnh.

# %% [markdown] lang="en"
# ## 4. Spatial SE and scSE
#
# Hu et al.'s SE asks "**which** channels matter?" and answers once per image. In segmentation, "**which** pixels matter?" is a fair question too. Roy, Navab and Wachinger (2018) propose:
#
# - **cSE** (channel SE): the SE block above (their paper uses $r = 2$);
# - **sSE** (spatial SE): squeeze along the **channels** with a 1x1 convolution from $C$ channels to 1, then excite in space: $q(i, j) = \sigma\big(\sum_c w_c\, u_c(i, j) + b\big)$ and $\hat u_c(i, j) = q(i, j)\, u_c(i, j)$ — one gate per pixel, shared by all channels;
# - **scSE**: the sum of both recalibrations, $\text{scSE}(U) = \text{cSE}(U) + \text{sSE}(U)$.
#
# They put scSE after the blocks of encoder-decoder networks such as U-Net and report consistent gains for very few parameters: sSE has only $C + 1$.
#
# ### Exercise 06-3 — Spatial SE
#
# Write `spatial_se(x, weight, bias)`: `x` is $N \times C \times H \times W$, `weight` a vector of $C$ numbers (the 1x1 convolution's weights), `bias` a number (one-element tensor). Return $x$ multiplied by the per-pixel gate $q$.


# %%
def spatial_se(x, weight, bias):
    ### BEGIN SOLUTION
    q = torch.sigmoid(torch.einsum("nchw,c->nhw", x, weight) + bias)
    return x * q[:, None]
    ### END SOLUTION


# %%
result = checks.check_spatial_se(spatial_se)

# %% [markdown] lang="vi"
# ## 5. Thêm SE vào một mô hình phân vùng
#
# `se.add_se(model, where, reduction=16)` sửa một mô hình có sẵn (tại chỗ):
#
# - `"backbone"`: trong mọi khối phần dư (*residual block*) một `SEBlock` được đặt ở cuối nhánh phần dư, sau BatchNorm cuối và trước phép cộng, như SE-ResNet: các khối của `src.backbones` có sẵn một khe chú ý (*attention slot*) `block.attention` (một `nn.Identity()` cho đến khi được lấp), còn trong BasicBlock/Bottleneck của torchvision BatchNorm cuối trở thành `Sequential(bn, SEBlock)`;
# - `"decoder"`: một scSE được đặt vào các khe chú ý của bộ giải mã: sau ASPP, sau gộp kim tự tháp (PSPNet), sau mỗi khối RefineNet, và trên đặc trưng đi vào lớp phân loại 1x1 cuối cùng của đầu ra (*head*);
# - `"both"`: cả hai.
#
# DeepLabV3 của bài 03 (và RefineNet của bài 05) nhận cờ `se=` và tự gọi `add_se`. Ta huấn luyện ba phiên bản của DeepLabV3 với mạng xương sống (*backbone*) nhỏ trên bộ ghép vân 5 lớp, **cùng** số epoch, tốc độ học (*learning rate*) và hạt giống ngẫu nhiên (*seed*): không SE, SE trong mạng xương sống, và SE ở cả hai nơi.

# %% [markdown] lang="en"
# ## 5. Adding SE to a segmentation model
#
# `se.add_se(model, where, reduction=16)` modifies an existing model in place:
#
# - `"backbone"`: in every residual block an `SEBlock` goes at the end of the residual branch, after the last BatchNorm and before the addition, as in SE-ResNet: the blocks of `src.backbones` have an *attention slot* `block.attention` (an `nn.Identity()` until filled), and in torchvision's BasicBlock/Bottleneck the last BatchNorm becomes `Sequential(bn, SEBlock)`;
# - `"decoder"`: an scSE goes into the decoder's attention slots: after ASPP, after pyramid pooling (PSPNet), after each RefineNet block, and on the features entering the head's final 1x1 classifier;
# - `"both"`: both.
#
# Lesson 03's DeepLabV3 (and lesson 05's RefineNet) take an `se=` flag and call `add_se` themselves. We train three versions of DeepLabV3 with the tiny backbone on the 5-class mosaics, with the **same** epochs, learning rate and seed: no SE, SE in the backbone, and SE in both places.

# %%
EPOCHS, WIDTH = 10, 64
train_loader, val_loader = data.make_loaders("mosaic", size=64, batch_size=16)
variants = {"no SE": False, "SE backbone": "backbone", "SE backbone + scSE decoder": "both"}
trained, results = {}, []
for name, flag in variants.items():
    src.seed_everything(0)
    model = DeepLabV3(5, "tiny", se=flag, atrous_rates=(1, 2, 3), channels=WIDTH)  # 4x4 map at OS 16
    history = train.fit(model, train_loader, val_loader, epochs=EPOCHS, description=name)
    trained[name] = model
    results.append(
        {
            "model": name,
            "params": models.count_parameters(model),
            "SE blocks": sum(isinstance(m, se.SEBlock) for m in model.modules()),
            "val mIoU": round(history.final["val_miou"], 3),
            "val boundary F": round(history.final["val_boundary_f1"], 3),
            "train s": round(history.seconds, 1),
        }
    )
se_table = pd.DataFrame(results).set_index("model")
se_table["extra params %"] = (100 * se_table["params"] / se_table["params"].iloc[0] - 100).round(2)
print(se_table.to_string())

# %% [markdown] lang="vi"
# Đọc bảng trên theo ba cột: tham số thêm vào (rất ít với SE trong mạng xương sống, vì mạng nhỏ và $r = 16$; scSE của bộ giải mã dùng $r = 2$ nên tốn hơn), thời gian huấn luyện (thời gian tăng dù SE gần như không thêm FLOPs, xem mục 3; SE thêm nhiều phép toán nhỏ, một lý do có khả năng trên CPU mà bài này không đo; trên máy dùng chung thời gian còn dao động theo tải), và mIoU trên tập kiểm định (*validation set*). Với một hạt giống và vài epoch, chênh lệch mIoU vài điểm phần trăm có thể chỉ là nhiễu; muốn kết luận chắc chắn phải lặp lại với nhiều hạt giống: `benchmarks/bench_se.py` làm lại thí nghiệm này với nhiều hạt giống, cho DeepLabV3 và cho RefineNet rút gọn (*Light-Weight RefineNet*) của bài 05 (`RefineNet(5, "tiny", light=True, se=...)`). Điều đáng nhớ là SE là một thay đổi **rẻ** mà ta có thể thử trên bất kỳ mạng nào có khối phần dư hay bộ giải mã.

# %% [markdown] lang="en"
# Read the table above along three columns: extra parameters (very few for SE in the backbone, since the network is small and $r = 16$; the decoder's scSE uses $r = 2$ and costs more), training time (it grows although SE adds almost no FLOPs, see section 3; SE adds many small operations, a likely reason on a CPU that this lesson does not measure; on a shared machine the time also varies with the load), and validation mIoU. With one seed and a few epochs, a difference of a few points of mIoU can be noise; a firm conclusion needs several seeds: `benchmarks/bench_se.py` repeats this experiment over seeds, for DeepLabV3 and for lesson 05's Light-Weight RefineNet (`RefineNet(5, "tiny", light=True, se=...)`). What to remember is that SE is a **cheap** change that can be tried on any network with residual blocks or a decoder.

# %% [markdown] lang="vi"
# ### Một khẳng định được đo: SE như ngữ cảnh toàn cục rẻ, trên `cue`
#
# Trên bộ ghép vân, lớp của một điểm ảnh thấy được ngay tại chỗ, nên không có lý do gì để SE giúp nhiều; bảng trên (một hạt giống) không đủ để kết luận điều gì. Phép nén (*squeeze*) của SE là một phép gộp trung bình toàn cục: nó cho mỗi tầng một tóm tắt của **cả ảnh**. Để đo xem tóm tắt đó có dùng được không, ta cần dữ liệu mà lớp phụ thuộc vào một dấu hiệu ở xa: bộ `cue` của bài 03 (các hình tròn xám; lớp của chúng do một ô màu đỏ hay xanh lam ở một góc ảnh quyết định). Ta so cùng một mạng nhỏ (`src.claims.ContextProbe`: bốn tích chập, trường tiếp nhận 23 điểm ảnh theo công thức truy hồi của bài 01, $3 \to 7 \to 15 \to 23$, không có mô-đun ngữ cảnh nào khác) có và không có một khối SE (`se.SEBlock`, hệ số giảm 4) sau mỗi tích chập. Thí nghiệm đầy đủ (`experiments/se_cue.py`, 5 hạt giống ngẫu nhiên) được ghi trong `src/results/se_cue.json`; ô dưới chạy một phiên bản nhỏ và đặt nó cạnh bản ghi (trên GPU hoặc với `SRC_FULL=1`: giao thức đầy đủ).

# %% [markdown] lang="en"
# ### A measured claim: SE as cheap global context, on `cue`
#
# On the texture mosaics a pixel's class is visible where it stands, so there is no reason for SE to help much; the table above (one seed) is not enough to conclude anything. SE's squeeze is a global average pooling: it gives every layer a summary of **the whole image**. To measure whether that summary can be used, we need data where the class depends on a distant cue: lesson 03's `cue` data (grey discs whose class is set by a red or blue square in one corner). We compare the same small network (`src.claims.ContextProbe`: four convolutions, a receptive field of 23 pixels by lesson 01's recurrence, $3 \to 7 \to 15 \to 23$, no other context module) with and without an SE block (`se.SEBlock`, reduction 4) after each convolution. The full experiment (`experiments/se_cue.py`, 5 seeds) is recorded in `src/results/se_cue.json`; the cell below runs a small version and puts it next to the record (on a GPU or with `SRC_FULL=1`: the full protocol).

# %%
from src import claims, record

LIVE_SCALE = 1.0 if claims.full_protocol() else 0.35
live = claims.run("se_cue", seed=0, scale=LIVE_SCALE)
recorded = record.load("se_cue")
recorded_live = recorded.data["live"]["groups"]
se_claim = pd.DataFrame(
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
se_claim.index.name = "val mIoU"
print(recorded.verdict())
se_claim

# %% [markdown] lang="vi"
# Dòng in phía trên bảng là kết luận của bản ghi: hiệu ứng chỉ được nêu khi thống kê $t$ của Welch qua 5 hạt giống đạt ít nhất 2, nếu không thì nói rõ là không đo được khác biệt. Hãy nhìn cả độ lệch chuẩn chứ không chỉ trung bình: độ lệch lớn nghĩa là với ngân sách này có hạt giống học được cách đọc dấu hiệu và có hạt giống không (giá trị của từng hạt giống nằm trong `src/results/se_cue.json`); ở cỡ nhỏ của notebook, so cột "bản ghi, cùng cỡ nhỏ" để biết một lần chạy ngắn có đủ để thấy hiệu ứng hay không. Cùng một khối SE có thể không mang lại khác biệt đo được khi thông tin đã có sẵn tại chỗ (bộ ghép vân), nhưng lại giúp khi lớp phụ thuộc vào một dấu hiệu toàn cục: điều nó mang lại là một cái nhìn toàn cục rất rẻ.

# %% [markdown] lang="en"
# The line printed above the table is the record's verdict: the effect is stated only when Welch's $t$ over 5 seeds is at least 2, otherwise it says plainly that no difference was measured. Look at the standard deviation, not only the mean: a large one means that at this budget some seeds learn to read the cue and some do not (the per-seed values are in `src/results/se_cue.json`); at the notebook's small size, compare with the "record, same small size" column to know whether a short run is enough to see the effect at all. The same SE block may bring no measurable gain where the information is already local (the texture mosaics) and help when the class depends on a global cue: what it adds is a very cheap global view.

# %% [markdown] lang="vi"
# ## 6. Các cổng học được gì?
#
# Trong phần phân tích vai trò của bước kích thích, Hu và cộng sự lấy trung bình cổng kích thích theo từng lớp của ImageNet và thấy: ở các tầng **đầu**, cổng gần như giống nhau cho mọi lớp (đặc trưng cấp thấp dùng chung); ở các tầng **sâu**, cổng khác nhau rõ rệt giữa các lớp (đặc trưng chuyên biệt).
#
# Ta làm tương tự trên mô hình "SE backbone + scSE decoder" vừa huấn luyện: bốn khối SE của mạng xương sống và hai nhánh cSE của scSE trong bộ giải mã (sau ASPP và trước lớp phân loại). Cổng SE thuộc về **cả ảnh**, còn ảnh ghép có nhiều lớp, nên mỗi ảnh của tập kiểm định được gán cho **lớp chiếm nhiều điểm ảnh nhất** của nó. `se.record_gates` móc vào mô-đun `sigmoid` của từng khối SE; `se.class_gate_means` trả về, cho mỗi khối, một ma trận (lớp x kênh) các cổng trung bình. Hình vẽ độ lệch của mỗi hàng so với trung bình các lớp (đỏ: lớp này mở cổng rộng hơn, xanh: hẹp hơn). **Độ phân tán giữa các lớp** là độ lệch chuẩn theo lớp, lấy trung bình qua các kênh.

# %% [markdown] lang="en"
# ## 6. What do the gates learn?
#
# In their analysis of the excitation step, Hu et al. average the excitation gates per ImageNet class and find: in **early** layers the gates are nearly the same for every class (shared low-level features); in **deep** layers they differ clearly between classes (specialised features).
#
# We do the same on the "SE backbone + scSE decoder" model we just trained: the backbone's four SE blocks and the two cSE branches of the decoder's scSE (after ASPP and before the classifier). An SE gate belongs to **the whole image**, while a mosaic holds several classes, so every validation image is attributed to its **dominant class** (the one covering most pixels). `se.record_gates` hooks the `sigmoid` module of every SE block; `se.class_gate_means` returns, for each block, a (class x channel) matrix of mean gates. The figure shows each row minus the class average (red: this class opens the gate wider, blue: narrower). The **between-class spread** is the standard deviation over classes, averaged over channels.

# %%
val_set = data.TextureMosaics("mosaic", "val")
val_images = torch.stack([val_set[i][0] for i in range(len(val_set))])
val_masks = torch.stack([val_set[i][1] for i in range(len(val_set))])
model = trained["SE backbone + scSE decoder"]
gate_means = se.class_gate_means(model, val_images, val_masks, num_classes=val_set.num_classes)
labels = {"classifier.context_attention.cse": "ASPP · cSE", "classifier.attention.cse": "head · cSE"}

fig, axes = plt.subplots(1, len(gate_means), figsize=(12, 2.6), layout="constrained")
spread = {}
for ax, (site, means) in zip(axes, gate_means.items()):
    label = labels.get(site, site.split(".")[1])  # backbone.layerK.attention -> layerK
    spread[label] = round(float(means.std(0).mean()), 4)
    deviation = means - means.mean(0)  # how each class moves a channel's gate away from its average
    im = ax.imshow(deviation.numpy(), vmin=-0.1, vmax=0.1, cmap="RdBu_r", aspect="auto", interpolation="nearest")
    ax.set_title(f"{label} (C={means.shape[1]})", fontsize=9)
    ax.set_yticks(range(val_set.num_classes), val_set.class_names if ax is axes[0] else [""] * val_set.num_classes)
    ax.set_xlabel(src.tr("kênh", "channel"), fontsize=8)
fig.colorbar(im, ax=axes, shrink=0.8, label=src.tr("cổng − trung bình các lớp", "gate − class average"))
fig.suptitle(
    src.tr("Cổng SE trung bình theo lớp chiếm ưu thế của ảnh", "Mean SE gate per dominant class of the image"),
    fontsize=10,
)
plt.show()
print(src.tr("độ phân tán giữa các lớp:", "between-class spread:"), src.format_value(spread))
dominant = torch.stack([torch.bincount(m.flatten(), minlength=5)[:5] for m in val_masks]).argmax(1)
print(
    src.tr("số ảnh theo lớp chiếm ưu thế:", "images per dominant class:"),
    dict(zip(val_set.class_names, torch.bincount(dominant, minlength=5).tolist())),
)

# %% [markdown] lang="vi"
# Mỗi ô màu cho biết cổng của một kênh (trục ngang) lệch bao nhiêu so với trung bình, với các ảnh mà một lớp (trục dọc) chiếm ưu thế. So các hình con và dòng "độ phân tán giữa các lớp" in ở trên: nếu một hình con gần như trắng toàn bộ thì các cổng ở tầng đó không phụ thuộc vào lớp; nếu chúng khác nhau thì SE đang bật/tắt kênh tuỳ theo loại vân trong ảnh. Hãy so sánh xu hướng từ `layer1` đến `layer4` với nhận xét của Hu và cộng sự, và so các khối cSE của bộ giải mã (với $r = 2$ chúng có nhiều nơ-ron hơn hẳn) với các khối của mạng xương sống. Lưu ý hai giới hạn của phép đo này: mạng xương sống rất nhỏ ($C' = C/16$ chỉ từ 1 đến 4 nơ-ron), và gán cả ảnh cho một lớp làm các khác biệt bị pha loãng.

# %% [markdown] lang="en"
# Each coloured cell tells how far the gate of one channel (horizontal axis) moves from its average over the images dominated by one class (vertical axis). Compare the panels of the figure and the "between-class spread" line printed above: if a panel is almost white, the gates there do not depend on the class; if they differ, SE is turning channels up or down depending on the textures in the image. Compare the trend from `layer1` to `layer4` with Hu et al.'s observation, and the decoder's cSE blocks (with $r = 2$ they have far more neurons) with the backbone's. Two limits of this measurement: the backbone is tiny ($C' = C/16$ is only 1 to 4 neurons), and attributing a whole image to one class dilutes the differences.

# %% [markdown] lang="vi"
# ## Ghi nhớ
#
# - SE = nén (gộp trung bình toàn cục) → kích thích (1x1 xuống, ReLU, 1x1 lên, sigmoid) → nhân từng kênh với cổng. Cổng phụ thuộc vào nội dung ảnh.
# - Sigmoid, không phải softmax: các kênh không phải cạnh tranh, nhiều kênh có thể cùng được giữ lại.
# - Chi phí tham số $\approx \frac{2}{r} \sum_s N_s C_s^2$, dồn ở các tầng cuối; chi phí tính toán rất nhỏ (xem bảng ở mục 3).
# - Gộp toàn cục phải lấy trung bình trên **cả** $H$ và $W$: `avg_pool2d(kernel_size=W)` sai khi ảnh không vuông.
# - sSE cân lại từng điểm ảnh, scSE = cSE + sSE, hợp với bộ giải mã của mô hình phân vùng.
# - `add_se(model, "backbone" | "decoder" | "both")` thêm SE vào mô hình có sẵn; kết quả trên dữ liệu của ta nằm trong bảng ở mục 5.

# %% [markdown] lang="en"
# ## Key takeaways
#
# - SE = squeeze (global average pooling) → excite (1x1 down, ReLU, 1x1 up, sigmoid) → scale every channel by its gate. The gate depends on the image content.
# - A sigmoid, not a softmax: channels do not compete, several can stay on at once.
# - Parameter cost $\approx \frac{2}{r} \sum_s N_s C_s^2$, concentrated in the last stages; the compute cost is tiny (see the table of section 3).
# - Global pooling must average over **both** $H$ and $W$: `avg_pool2d(kernel_size=W)` is wrong for non-square images.
# - sSE recalibrates every pixel, scSE = cSE + sSE, a good fit for segmentation decoders.
# - `add_se(model, "backbone" | "decoder" | "both")` adds SE to an existing model; the results on our data are in the table of section 5.

# %% [markdown] lang="vi"
# ## Tài liệu tham khảo
#
# - J. Hu, L. Shen, S. Albanie, G. Sun, E. Wu. *Squeeze-and-Excitation Networks*. CVPR 2018 / TPAMI 2019. arXiv 1709.01507.
# - A. G. Roy, N. Navab, C. Wachinger. *Concurrent Spatial and Channel "Squeeze & Excitation" in Fully Convolutional Networks*. MICCAI 2018. arXiv 1803.02579.
# - K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition*. CVPR 2016. arXiv 1512.03385.
# - L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. *Rethinking Atrous Convolution for Semantic Image Segmentation* (DeepLabv3). arXiv 1706.05587.
# - X. Ding, X. Zhang, N. Ma, J. Han, G. Ding, J. Sun. *RepVGG: Making VGG-style ConvNets Great Again*. CVPR 2021. arXiv 2101.03697 (mã SEBlock có cách gộp vuông nói ở mục 2).

# %% [markdown] lang="en"
# ## References
#
# - J. Hu, L. Shen, S. Albanie, G. Sun, E. Wu. *Squeeze-and-Excitation Networks*. CVPR 2018 / TPAMI 2019. arXiv 1709.01507.
# - A. G. Roy, N. Navab, C. Wachinger. *Concurrent Spatial and Channel "Squeeze & Excitation" in Fully Convolutional Networks*. MICCAI 2018. arXiv 1803.02579.
# - K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition*. CVPR 2016. arXiv 1512.03385.
# - L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. *Rethinking Atrous Convolution for Semantic Image Segmentation* (DeepLabv3). arXiv 1706.05587.
# - X. Ding, X. Zhang, N. Ma, J. Han, G. Ding, J. Sun. *RepVGG: Making VGG-style ConvNets Great Again*. CVPR 2021. arXiv 2101.03697 (the SEBlock code with the square pooling of section 2).
