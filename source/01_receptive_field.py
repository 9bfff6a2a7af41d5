# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   lesson:
#     summary:
#       vi: "Trường tiếp nhận: công thức truy hồi, bảng theo lớp, trường hiệu dụng, trình khám phá tương tác"
#       en: "Receptive field: the recurrence, per-layer tables, the effective RF, an interactive explorer"
# ---

# %% [markdown] lang="vi"
# # Bài 01 — Trường tiếp nhận
#
# **Mục tiêu.** Sau bài này bạn sẽ:
# - hiểu vì sao nhãn của một điểm ảnh (*pixel*) cần ngữ cảnh, và trường tiếp nhận (*receptive field*, RF) đo lượng ngữ cảnh đó thế nào;
# - tự suy ra công thức truy hồi của RF cho một chuỗi lớp, rồi dùng nó trên mạng nhỏ và trên ResNet-50;
# - thấy bước trượt (*stride*), phép gộp (*pooling*) và tích chập giãn (*dilated convolution*) làm RF lớn lên ra sao;
# - đo trường tiếp nhận hiệu dụng (*effective receptive field*, ERF) bằng gradient và so nó với RF lý thuyết;
# - thử trên dữ liệu hình học tổng hợp của khoá học: khi RF quá nhỏ, mô hình phân vùng ngữ nghĩa (*semantic segmentation*) thất bại ở đâu.

# %% [markdown] lang="en"
# # Lesson 01 — The receptive field
#
# **Goals.** After this lesson you will:
# - understand why the label of a pixel needs context, and how the receptive field (RF) measures that context;
# - derive the RF recurrence for a chain of layers yourself, then apply it to a small net and to ResNet-50;
# - see how stride, pooling and dilated convolution make the RF grow;
# - measure the effective receptive field (ERF) with gradients and compare it with the theoretical RF;
# - test it on the course's synthetic shapes: where a segmentation model fails when its RF is too small.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torchvision.models as tvm

import src
import src.checks
from src import receptive_field as rf
from src.data import make_loaders
from src.train import fit, predict
from src.viz import show_predictions

src.seed_everything(0)
device = src.get_device()

# %% [markdown] lang="vi"
# ## 1. Vì sao cần ngữ cảnh?
#
# Một đơn vị trong bản đồ đặc trưng (*feature map*) ở lớp sâu chỉ "nhìn thấy" một vùng hữu hạn của ảnh vào:
# đó là **trường tiếp nhận** của nó. Mọi điểm ảnh nằm ngoài vùng này không thể ảnh hưởng tới giá trị của đơn vị,
# dù mạng được huấn luyện tốt đến đâu.
#
# Với phân vùng ngữ nghĩa, mỗi điểm ảnh đầu ra phải nhận một nhãn. Nếu nhãn chỉ phụ thuộc vào vân bề mặt tại chỗ
# (cỏ hay sỏi), một RF nhỏ là đủ. Nhưng nếu nhãn phụ thuộc vào **hình dạng của cả vùng** — điểm ảnh này thuộc
# một hình tròn hay một hình vuông? — thì RF phải đủ lớn để bao được cả vùng đó. Bộ dữ liệu `shapes` của khoá học
# được dựng đúng như vậy, và ở cuối bài ta sẽ đo hiệu ứng này.

# %% [markdown] lang="en"
# ## 1. Why context?
#
# A unit of a deep feature map only "sees" a finite region of the input image: that region is its
# **receptive field**. No pixel outside it can change the unit's value, however well the network is trained.
#
# In semantic segmentation every output pixel gets a label. If the label only depends on the local texture
# (grass or gravel), a small RF is enough. If it depends on **the shape of the whole region** — is this pixel part
# of a circle or of a square? — the RF must be large enough to cover that region. The course's `shapes` data is
# built exactly this way, and at the end of the lesson we measure the effect.

# %% [markdown] lang="vi"
# ## 2. Công thức truy hồi
#
# Xét một chuỗi lớp; lớp $l$ có kích thước nhân $k_l$, bước trượt $s_l$, hệ số giãn (*dilation rate*) $d_l$ và
# phần đệm (*padding*) $p_l$. Gọi $r_l$ là RF của một đơn vị sau lớp $l$ (tính bằng điểm ảnh của ảnh vào), và
# $j_l$ là **bước nhảy** (*jump*): khoảng cách, trong ảnh vào, giữa hai đơn vị kề nhau của bản đồ sau lớp $l$.
# Ban đầu $r_0 = 1$, $j_0 = 1$.
#
# 1. Nhân giãn có kích thước hiệu dụng $k'_l = d_l (k_l - 1) + 1$.
# 2. Hai đơn vị kề nhau của lớp $l-1$ cách nhau $j_{l-1}$ điểm ảnh, nên khi nhân trượt thêm $k'_l - 1$ vị trí,
#    vùng nhìn thấy rộng thêm $(k'_l - 1)\, j_{l-1}$ điểm ảnh.
# 3. Bước trượt nhân khoảng cách giữa các đơn vị.
#
# $$r_l = r_{l-1} + (k_l - 1)\, d_l\, j_{l-1}, \qquad j_l = j_{l-1}\, s_l .$$
#
# Tâm của đơn vị đầu tiên dịch theo phần đệm: $c_l = c_{l-1} + \left(\tfrac{k'_l - 1}{2} - p_l\right) j_{l-1}$,
# với $c_0 = 0$. Khi mạng có nhánh (ResNet, DenseNet, Inception), ta không đi theo một chuỗi mà theo **đồ thị**:
# tại chỗ hai nhánh hợp lại (cộng hoặc nối kênh), vùng nhìn thấy là **hợp** của hai ô vuông.
# `src.receptive_field.receptive_field` lần theo đồ thị bằng `torch.fx` và áp dụng đúng các quy tắc này.
#
# Bảng dưới đây tính từng bước cho một mạng nhỏ: hai tích chập $3\times3$, một phép gộp cực đại $2\times2$,
# rồi một tích chập $3\times3$ giãn 2.

# %% [markdown] lang="en"
# ## 2. The recurrence
#
# Take a chain of layers; layer $l$ has kernel size $k_l$, stride $s_l$, dilation rate $d_l$ and padding $p_l$.
# Let $r_l$ be the RF of one unit after layer $l$ (in input pixels) and $j_l$ the **jump**: the distance, in the
# input, between two neighbouring units of the map after layer $l$. We start with $r_0 = 1$, $j_0 = 1$.
#
# 1. A dilated kernel has effective size $k'_l = d_l (k_l - 1) + 1$.
# 2. Neighbouring units of layer $l-1$ are $j_{l-1}$ pixels apart, so sliding over $k'_l - 1$ more positions widens
#    the region seen by $(k'_l - 1)\, j_{l-1}$ pixels.
# 3. The stride multiplies the spacing between units.
#
# $$r_l = r_{l-1} + (k_l - 1)\, d_l\, j_{l-1}, \qquad j_l = j_{l-1}\, s_l .$$
#
# The centre of the first unit moves with the padding: $c_l = c_{l-1} + \left(\tfrac{k'_l - 1}{2} - p_l\right) j_{l-1}$,
# with $c_0 = 0$. When the network has branches (ResNet, DenseNet, Inception) we follow the **graph**, not a chain:
# where two branches merge (by addition or channel concatenation) the region seen is the **union** of the two boxes.
# `src.receptive_field.receptive_field` walks the graph with `torch.fx` and applies exactly these rules.
#
# The table below works it out step by step for a small net: two $3\times3$ convolutions, a $2\times2$ max pooling,
# then a $3\times3$ convolution with dilation 2.

# %%
# NBVAL_CHECK_OUTPUT
small = nn.Sequential(
    nn.Conv2d(3, 8, 3, padding=1),
    nn.ReLU(),
    nn.Conv2d(8, 8, 3, padding=1),
    nn.MaxPool2d(2),
    nn.Conv2d(8, 8, 3, padding=2, dilation=2),
)
print(rf.receptive_field(small, 32))

# %% [markdown] lang="vi"
# ### Bài tập 01-1 — cài đặt công thức truy hồi
#
# Viết `rf_chain(layers)`: `layers` là danh sách các bộ `(kernel, stride, dilation)`; trả về danh sách
# `(rf, jump)` **sau mỗi lớp**. Ví dụ `rf_chain([(3, 1, 1), (3, 2, 1)])` trả về `[(3, 1), (5, 2)]`.

# %% [markdown] lang="en"
# ### Exercise 01-1 — implement the recurrence
#
# Write `rf_chain(layers)`: `layers` is a list of `(kernel, stride, dilation)` triples; return the list of
# `(rf, jump)` **after each layer**. For example `rf_chain([(3, 1, 1), (3, 2, 1)])` returns `[(3, 1), (5, 2)]`.


# %%
def rf_chain(layers):
    ### BEGIN SOLUTION
    r, j, out = 1, 1, []
    for k, s, d in layers:
        r += (k - 1) * d * j
        j *= s
        out.append((r, j))
    return out
    ### END SOLUTION


# %%
result = src.checks.check_rf_of_chain(rf_chain)

# %% [markdown] lang="vi"
# ### Bài tập 01-2 — dự đoán RF của bốn mạng nhỏ
#
# Đọc cấu trúc bốn mạng A, B, C, D in ra bên dưới và **tính tay** RF của đầu ra mỗi mạng (dùng công thức,
# đừng gọi `receptive_field`). Lưu ý: `MaxPool2d(2)` có nhân 2 và bước trượt 2.

# %% [markdown] lang="en"
# ### Exercise 01-2 — predict the RF of four small nets
#
# Read the four nets A, B, C, D printed below and **work out by hand** the RF of each output (use the recurrence,
# do not call `receptive_field`). Note: `MaxPool2d(2)` has kernel 2 and stride 2.

# %%
for name, net in src.checks.exercise_nets().items():
    print(name, [m for m in net if not isinstance(m, nn.ReLU)])


# %%
def predicted_rf():
    ### BEGIN SOLUTION
    return {"A": 13, "B": 18, "C": 15, "D": 19}
    ### END SOLUTION


# %%
result = src.checks.check_predicted_rf(predicted_rf)

# %% [markdown] lang="vi"
# ## 3. Bước trượt, phép gộp và tích chập giãn
#
# Trong công thức, $k_l - 1$ được nhân với $j_{l-1}$: **mọi lớp đứng sau một bước trượt đều "được khuếch đại"**.
# Xếp chồng tích chập $3\times3$ bước 1 chỉ làm RF tăng tuyến tính ($2$ điểm ảnh mỗi lớp); thêm bước trượt 2 thì
# RF tăng theo cấp số nhân, nhưng bản đồ đặc trưng nhỏ đi — điều bất lợi cho phân vùng, vốn cần một nhãn cho
# từng điểm ảnh. Tích chập giãn với hệ số $d_l = 2^l$ cũng cho RF tăng theo cấp số nhân **mà vẫn giữ nguyên độ
# phân giải** (Yu và Koltun, arXiv 1511.07122). Bảng sau so sánh ba chuỗi cùng bốn lớp $3\times3$.

# %% [markdown] lang="en"
# ## 3. Stride, pooling and dilation
#
# In the recurrence, $k_l - 1$ is multiplied by $j_{l-1}$: **every layer after a stride is "amplified"**.
# Stacking stride-1 $3\times3$ convolutions grows the RF linearly (2 pixels per layer); adding stride 2 makes it grow
# exponentially, but the feature map shrinks — bad news for segmentation, where each pixel needs a label. Dilated
# convolution with rates $d_l = 2^l$ also grows the RF exponentially **while keeping the resolution**
# (Yu & Koltun, arXiv 1511.07122). The table compares three chains of four $3\times3$ layers.

# %%
# NBVAL_CHECK_OUTPUT
chains = {
    "plain": [(3, 1, 1)] * 4,
    "stride 2": [(3, 2, 1)] * 4,
    "dilation 1,2,4,8": [(3, 1, 1), (3, 1, 2), (3, 1, 4), (3, 1, 8)],
}
for name, layers in chains.items():
    steps = rf.rf_of_chain(layers)
    print(f"{name:18s} RF: {[r for r, _ in steps]}   jump: {[j for _, j in steps]}")

# %% [markdown] lang="vi"
# ### Bài tập 01-3 — độ sâu nhỏ nhất
#
# Viết `smallest_depth(target_rf, kernel, stride, dilation)`: số lớp **giống hệt nhau** `(kernel, stride, dilation)`
# ít nhất để RF đạt ít nhất `target_rf` (mục tiêu 1 cần 0 lớp). Chẳng hạn, cần bao nhiêu lớp $3\times3$ bước 1 để
# RF của một đơn vị rộng bằng ảnh $100\times100$?

# %% [markdown] lang="en"
# ### Exercise 01-3 — the smallest depth
#
# Write `smallest_depth(target_rf, kernel, stride, dilation)`: the fewest **identical** `(kernel, stride, dilation)`
# layers whose RF reaches at least `target_rf` (a target of 1 needs 0 layers). For instance, how many stride-1
# $3\times3$ layers does it take for a unit's RF to be as wide as a $100\times100$ image?


# %%
def smallest_depth(target_rf, kernel=3, stride=1, dilation=1):
    ### BEGIN SOLUTION
    depth, r, j = 0, 1, 1
    while r < target_rf:
        r += (kernel - 1) * dilation * j
        j *= stride
        depth += 1
    return depth
    ### END SOLUTION


# %%
result = src.checks.check_smallest_depth(smallest_depth)

# %%
# NBVAL_CHECK_OUTPUT
for k, s in [(3, 1), (3, 2), (7, 1)]:
    depth = rf.smallest_depth(100, k, s)
    print(
        src.tr(
            f"nhân {k}, bước trượt {s}: {depth} lớp để RF >= 100",
            f"kernel {k}, stride {s}: {depth} layers reach RF >= 100",
        )
    )

# %% [markdown] lang="vi"
# ## 4. Một mạng thật: ResNet-50
#
# ResNet có kết nối phần dư (*residual connection*): nhánh chính và nhánh tắt hợp lại bằng phép cộng, nên đi
# theo một chuỗi là sai. `receptive_field` lần theo đồ thị (`torch.fx`); với một mạng phân loại, nó mô tả bản đồ
# không gian cuối cùng trước phép gộp trung bình toàn cục. Dưới đây là RF sau từng tầng của ResNet-50 (dựng với
# `weights=None`, không tải gì về), và ResNet-50 có `replace_stride_with_dilation` — phiên bản DeepLab dùng
# (bài 02). Các con số này đã được kiểm tra trong `tests/test_receptive_field.py` bằng một phép đo gradient độc lập.

# %% [markdown] lang="en"
# ## 4. A real network: ResNet-50
#
# ResNet has residual connections: the main branch and the shortcut merge by addition, so walking a chain would be
# wrong. `receptive_field` follows the graph (`torch.fx`); for a classifier it describes the last spatial map before
# global average pooling. Below: the RF after each stage of ResNet-50 (built with `weights=None`, nothing
# downloaded), and of ResNet-50 with `replace_stride_with_dilation` — the variant DeepLab uses (lesson 02). These
# numbers are checked in `tests/test_receptive_field.py` against an independent gradient measurement.

# %%
# NBVAL_CHECK_OUTPUT
resnet = tvm.resnet50(weights=None)
dilated = tvm.resnet50(weights=None, replace_stride_with_dilation=[False, True, True])
lines = []
for stage in ["maxpool", "layer1", "layer2", "layer3", "layer4"]:
    a = rf.receptive_field(resnet, 224, output=stage)
    b = rf.receptive_field(dilated, 224, output=stage)
    lines.append(
        f"{stage:8s} RF {a.size:4d} jump {a.stride:3d} map {a.output_size}"
        f" | dilated: RF {b.size:4d} jump {b.stride:3d} map {b.output_size}"
    )
print("\n".join(lines))

# %%
report = rf.receptive_field(resnet, 224)
report.table().head(12)

# %% [markdown] lang="vi"
# RF của ResNet-50 lớn hơn cả ảnh $224\times224$, và bản có tích chập giãn giữ **cùng** RF nhưng bản đồ đặc trưng
# lớn hơn gấp 4 mỗi chiều. Hai kiến trúc kinh điển trả lời câu hỏi "làm sao có nhiều ngữ cảnh mà vẫn giữ chi tiết":
# - **DeepLab** (Chen và cộng sự, arXiv 1606.00915, 1706.05587): tích chập giãn (*atrous convolution*) thay cho bước
#   trượt ở các tầng cuối, và ASPP — nhiều nhánh giãn với hệ số khác nhau (bài 02, 03);
# - **PSPNet** (Zhao và cộng sự, arXiv 1612.01105): gộp kim tự tháp không gian (*spatial pyramid pooling*) ở nhiều
#   lưới $1\times1, 2\times2, 3\times3, 6\times6$; nhánh $1\times1$ là đặc trưng mức ảnh, có RF bằng **cả ảnh**.

# %% [markdown] lang="en"
# ResNet-50's RF is larger than the $224\times224$ image itself, and the dilated variant keeps the **same** RF with
# a feature map 4 times larger per side. Two classic architectures answer "how to get a lot of context and keep
# detail":
# - **DeepLab** (Chen et al., arXiv 1606.00915, 1706.05587): atrous (dilated) convolution instead of stride in the
#   last stages, and ASPP — parallel dilated branches with different rates (lessons 02, 03);
# - **PSPNet** (Zhao et al., arXiv 1612.01105): spatial pyramid pooling over $1\times1, 2\times2, 3\times3, 6\times6$
#   grids; the $1\times1$ branch is an image-level feature whose RF is **the whole image**.

# %% [markdown] lang="vi"
# ## 5. Trường tiếp nhận hiệu dụng
#
# RF lý thuyết chỉ nói điểm ảnh nào **có thể** ảnh hưởng. Luo và cộng sự (arXiv 1701.04128) đo mức ảnh hưởng thật:
# lấy gradient của một đơn vị đầu ra trung tâm theo ảnh vào,
# $\mathrm{ERF}(x) = \mathbb{E}\left[\left|\partial y_{\text{tâm}} / \partial I(x)\right|\right]$, lấy trung bình trên
# nhiều ảnh ngẫu nhiên. Với trọng số ngẫu nhiên, ERF có dạng **gần Gauss**: số đường đi từ một điểm ảnh tới đơn vị
# đầu ra giống như hệ số nhị thức, tập trung ở giữa. Bán kính Gauss chỉ tăng như $\sqrt{n}$ theo số lớp $n$, còn RF lý
# thuyết tăng như $n$: **tỉ lệ ERF/RF giảm dần khi mạng sâu hơn**. Ta đo "diện tích ERF" là số điểm ảnh ít nhất giữ
# 95 % tổng độ lớn gradient, chia cho diện tích ô RF lý thuyết.

# %% [markdown] lang="en"
# ## 5. The effective receptive field
#
# The theoretical RF only says which pixels **can** matter. Luo et al. (arXiv 1701.04128) measure how much they
# actually do: the gradient of a central output unit with respect to the input,
# $\mathrm{ERF}(x) = \mathbb{E}\left[\left|\partial y_{\text{centre}} / \partial I(x)\right|\right]$, averaged over
# random inputs. With random weights the ERF is **close to a Gaussian**: the number of paths from a pixel to the
# output unit behaves like a binomial coefficient, concentrated in the middle. The Gaussian's radius grows like
# $\sqrt{n}$ with the number of layers $n$, the theoretical RF like $n$: **the ERF/RF ratio shrinks as the network
# gets deeper**. We measure the "ERF area" as the fewest pixels that hold 95 % of the total gradient magnitude,
# divided by the area of the theoretical RF box.

# %%
src.seed_everything(0)
depths = [2, 4, 8, 16]
fig, axes = plt.subplots(1, len(depths), figsize=(9, 2.6))
rows = []
for ax, depth in zip(axes, depths):
    net = rf.conv_chain(layers=depth, kernel=3)
    erf = rf.effective_receptive_field(net, 65, samples=8)
    rep = rf.receptive_field(net, 65)
    rows.append((depth, rep.size, rf.erf_coverage(erf, rep.box())))
    ax.imshow(erf, cmap="inferno")
    top, left, bottom, right = rep.box()
    ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False, color="cyan"))
    ax.set_title(src.tr(f"{depth} lớp", f"{depth} layers"), fontsize=9)
    ax.set_axis_off()
fig.tight_layout()
for depth, size, cover in rows:
    print(
        src.tr(
            f"{depth:2d} lớp: RF lý thuyết {size:3d}, ERF chiếm {src.format_number(100 * cover, 1)} % ô RF",
            f"{depth:2d} layers: theoretical RF {size:3d}, ERF fills {cover:.1%} of the RF box",
        )
    )

# %% [markdown] lang="vi"
# Ô màu lục lam là RF lý thuyết; vùng sáng là ERF. Bảng in ra cho thấy tỉ lệ ERF/RF khi số lớp tăng. Lát cắt qua
# tâm của ERF 16 lớp, so với một đường Gauss có cùng phương sai:

# %% [markdown] lang="en"
# The cyan box is the theoretical RF; the bright blob is the ERF. The printed table shows the ERF/RF ratio as depth
# grows. A slice through the centre of the 16-layer ERF, against a Gaussian of the same variance:

# %%
profile = erf[32].double()
x = torch.arange(65, dtype=torch.float64) - 32
sigma = float(((profile * x**2).sum() / profile.sum()).sqrt())
fig, ax = plt.subplots(figsize=(4.5, 2.4))
ax.plot(x, profile / profile.max(), "o", ms=3, label="ERF")
ax.plot(x, torch.exp(-(x**2) / (2 * sigma**2)), label=f"Gauss, σ = {src.format_number(sigma, 1)}")
ax.set_xlabel(src.tr("khoảng cách tới tâm (điểm ảnh)", "distance to the centre (pixels)"))
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown] lang="vi"
# ## 6. Trình khám phá tương tác trên một mạng thật
#
# Trình khám phá dưới đây dùng ResNet-50 của torchvision (trọng số ngẫu nhiên, `weights=None`: không tải gì về)
# trên ảnh `astronaut` có sẵn trong scikit-image. **Bấm vào một điểm ảnh** để chọn đơn vị đầu ra gần nhất của lớp
# đang chọn: khung lục lam là RF lý thuyết của đơn vị đó trong ảnh, khung vàng nét đứt là toàn bộ RF khi nó vượt ra
# ngoài mép ảnh, các chấm trắng là lưới bước nhảy (tâm RF của các đơn vị), bên phải là ERF của đơn vị đó trên chính
# ảnh này (tính khi cần), bên dưới là bảng từng lớp tới lớp đang chọn. Có thể đổi mạng (`resnet18`, `resnet50`,
# `vgg16`, `densenet121` và các mô hình của khoá học), lớp, ảnh (hoặc tải ảnh của bạn lên), bật chế độ trình chiếu
# (chữ lớn, ẩn bảng) và đổi ngôn ngữ. Hãy thử: chọn `layer1` rồi `layer4` và so sánh kích thước khung với ảnh;
# bấm vào góc ảnh để thấy RF bị mép ảnh cắt. (Khi chạy không có giao diện widget, ô này vẽ một hình tĩnh cho đơn vị
# ở giữa.)
#
# **Không cần Python:** các trang HTML độc lập (ảnh, JS, CSS đều nằm ngay trong tệp; không gọi địa chỉ ngoài nào) đi kèm
# khoá học trong thư mục `explorer/`, mở thẳng bằng trình duyệt, kể cả trên máy chiếu:
# [ResNet-50](../../explorer/rf_resnet50.html), [VGG-16](../../explorer/rf_vgg16.html),
# [DenseNet-121](../../explorer/rf_densenet121.html). Tự xuất một trang:
# `python -m src.receptive_field.export --model resnet50 --layer layer3 --image astronaut --out rf.html`.

# %% [markdown] lang="en"
# ## 6. Interactive explorer on a real network
#
# The explorer below uses torchvision's ResNet-50 (random weights, `weights=None`: nothing is downloaded) on
# scikit-image's `astronaut` photo. **Click a pixel** to pick the nearest output unit of the chosen layer: the cyan
# box is that unit's theoretical RF inside the image, the dashed yellow box its full extent when it leaves the
# image, the white dots the jump grid (the RF centres of the units), on the right the unit's ERF on this very photo
# (computed on demand), below the per-layer table up to the chosen layer. You can switch the network (`resnet18`,
# `resnet50`, `vgg16`, `densenet121` and the course's models), the layer, the photo (or upload your own), turn on
# projector mode (large fonts, no table) and switch the language. Try: pick `layer1`, then `layer4`, and compare the
# box with the photo; click a corner to see the RF clipped by the border. (Without a widget front-end this cell
# draws a static figure for the central unit.)
#
# **No Python needed:** self-contained HTML pages (photo, JS and CSS inside the file; no external address) ship
# with the course in the `explorer/` folder and open directly in a browser, projector laptop included:
# [ResNet-50](../../explorer/rf_resnet50.html), [VGG-16](../../explorer/rf_vgg16.html),
# [DenseNet-121](../../explorer/rf_densenet121.html). Export a page yourself:
# `python -m src.receptive_field.export --model resnet50 --layer layer3 --image astronaut --out rf.html`.

# %% tags=["explorer"]
ui = rf.explorer(model="resnet50", image="astronaut", layer="layer3")

# %% [markdown] lang="vi"
# ## 7. Thí nghiệm: RF bao nhiêu là đủ?
#
# Dữ liệu `shapes` có một nền vân tối và 1–3 hình sáng hơn (tròn, vuông, tam giác), mỗi hình tô một vân ngẫu nhiên;
# **nhãn là hình dạng**. Nhận ra một điểm ảnh thuộc *một hình nào đó* chỉ cần nhìn cục bộ (hình sáng hơn nền), nhưng
# với một điểm ảnh nằm sâu bên trong hình, muốn biết đó là hình tròn hay hình vuông thì phải thấy đường biên quanh
# nó: gần biên, một góc hay một cạnh cong là đủ; xa biên, chỉ một RF vươn tới các cạnh mới phân biệt được. Ta huấn luyện các mạng `RFLadder` có **cùng độ
# sâu, cùng độ phân giải: tỉ lệ giảm kích thước đầu ra (*output stride*) 4**, chỉ khác RF: trong bốn lớp cuối, `level` lớp đầu là $3\times3$ với hệ số giãn lần lượt $1, 2, 4, 8$, các lớp còn lại là $1\times1$; `level` bằng 0, 2, 4 cho RF 7, 31, 127.
# RF được **tính** bằng `receptive_field`; hình tròn có đường kính khoảng 20–31 điểm ảnh (bán kính
# $0{,}16$–$0{,}24$ lần cạnh ảnh 64).

# %% [markdown] lang="en"
# ## 7. Experiment: how much RF is enough?
#
# The `shapes` data has a dark textured background and 1–3 brighter shapes (circle, square, triangle), each filled
# with a random texture; **the label is the shape**. Telling that a pixel belongs to *some* shape is local (shapes
# are brighter than the background), but telling a circle from a square, for a pixel deep inside the shape, needs
# the outline around it: near the boundary a corner or a curved edge is enough, far from it only an RF that reaches
# the edges tells them apart. We train `RFLadder` nets of **equal depth and resolution
# (output stride 4)** that differ only in their RF: of the last four layers, the first `level` are $3\times3$ with dilation
# $1, 2, 4, 8$ in turn and the others $1\times1$; `level` 0, 2, 4 gives RF 7, 31, 127. The RF is **computed** with `receptive_field`; circles have diameters of about 20 to 31
# pixels (radius $0.16$–$0.24$ of the 64-pixel side).

# %%
EPOCHS, LEVELS = 6, [0, 2, 4]
train_loader, val_loader = make_loaders("shapes", size=64, batch_size=16, train_count=320, val_count=64)
results, models = [], {}
for level in LEVELS:
    src.seed_everything(0)
    model = rf.RFLadder(num_classes=4, level=level)
    size = rf.receptive_field(model, 64).size
    history = fit(model, train_loader, val_loader, epochs=EPOCHS, lr=1e-2, device=device, description=f"RF {size}")
    results.append((size, history.final["val_miou"], history.final["val_pixel_accuracy"]))
    models[size] = model

# %%
print(src.tr("RF    mIoU (kiểm định)   độ chính xác điểm ảnh", "RF    val mIoU   pixel accuracy"))
for size, miou, acc in results:
    print(f"{size:4d}  {src.format_number(miou)}             {src.format_number(acc)}")
fig, ax = plt.subplots(figsize=(4.5, 2.8))
ax.plot([r[0] for r in results], [r[1] for r in results], "o-")
ax.axvline(
    2 * 0.24 * 64, color="gray", ls="--", lw=1, label=src.tr("đường kính hình tròn lớn nhất", "largest circle diameter")
)
ax.set_xscale("log", base=2)
ax.set_xlabel(src.tr("RF lý thuyết (điểm ảnh)", "theoretical RF (pixels)"))
ax.set_ylabel(src.tr("mIoU (kiểm định)", "val mIoU"))
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown] lang="vi"
# Dự đoán của mô hình RF nhỏ nhất và lớn nhất trên vài ảnh kiểm định:

# %% [markdown] lang="en"
# Predictions of the smallest-RF and the largest-RF model on a few validation images:

# %%
val = val_loader.dataset
images = torch.stack([val[i][0] for i in range(3)])
for size in (min(models), max(models)):
    heads = [src.tr("ảnh", "image"), src.tr("nhãn thật", "ground truth"), src.tr("dự đoán", "prediction")]
    heads = [*heads, src.tr("chỗ sai", "errors")]
    heads[2] += f" (RF {size})"  # the RF in a column title: no suptitle over the column titles
    fig = show_predictions(
        val.images[:3], val.masks[:3], predict(models[size], images), val.palette, val.class_names, n=3, titles=heads
    )

# %% [markdown] lang="vi"
# ### Một đối chứng cùng số tham số: chỉ khác hệ số giãn
#
# Các mạng `RFLadder` ở trên khác nhau cả về RF lẫn số tham số (các lớp $1\times1$ rẻ hơn các lớp $3\times3$), nên bảng trên chưa tách được tác động của riêng RF. Một đối chứng chặt chẽ hơn là `src.claims.DilationPair`: **cùng** sáu tích chập $3\times3$ (hai lớp bước trượt 2, rồi bốn lớp), cùng số tham số, cùng output stride 4; bốn lớp cuối có hệ số giãn $1, 1, 1, 1$ (RF 39) hoặc $1, 2, 4, 8$ (RF 127).
#
# Trên `shapes` ở 64 điểm ảnh, RF 39 đã bao gần trọn một hình nhìn từ tâm của nó (bán kính lớn nhất là $0{,}24$ lần cạnh ảnh), nên dữ liệu đó không **cần** RF lớn hơn. Vì vậy đối chứng này chạy trên dữ liệu `outline` (xem `data/README.md`), được dựng để cần RF rộng **theo cách dựng**: ảnh 96 điểm ảnh, một hoặc hai hình tròn lớn tô vân xám, và lớp của mỗi hình tròn **chỉ** được ghi trên đường viền mảnh của nó (viền đỏ: lớp 1, viền xanh lam: lớp 2); vân bên trong được chọn không phụ thuộc vào lớp. Một điểm ảnh nằm sâu trong hình tròn, cách viền xa hơn nửa RF, không thể "thấy" viền. Ô dưới **tính** hai RF bằng `receptive_field` và tỉ lệ điểm ảnh của các hình tròn nằm xa viền hơn $(\mathrm{RF}-1)/2$: đó là những điểm mà mạng RF 39 chỉ có thể đoán. (Phép phóng to song tuyến cuối cùng trộn các đầu ra cách nhau 4 điểm ảnh, nên tầm với thật lớn hơn vài điểm ảnh.)

# %% [markdown] lang="en"
# ### A parameter-matched control: only the dilation differs
#
# The `RFLadder` nets above differ in RF **and** in parameters (the $1\times1$ layers are cheaper than the $3\times3$ ones), so the table above does not isolate the effect of the RF alone. A cleaner control is `src.claims.DilationPair`: the **same** six $3\times3$ convolutions (two with stride 2, then four), the same parameters, the same output stride 4; the last four layers have dilation $1, 1, 1, 1$ (RF 39) or $1, 2, 4, 8$ (RF 127).
#
# On `shapes` at 64 pixels an RF of 39 already covers nearly a whole shape seen from its centre (the largest radius is $0.24$ of the side), so that data does not **need** a larger RF. This control therefore runs on the `outline` data (see `data/README.md`), built to need a wide RF *by construction*: 96-pixel images, one or two large discs filled with a grey texture, and each disc's class written **only** on its thin outline (red ring: class 1, blue ring: class 2); the texture inside is drawn independently of the class. A pixel deep inside a disc, farther from the ring than half the RF, cannot "see" the ring. The cell below **computes** both RFs with `receptive_field` and the share of disc pixels farther from the ring than $(\mathrm{RF}-1)/2$: the pixels the RF-39 net can only guess. (The final bilinear upsampling mixes outputs 4 pixels apart, so the real reach is a few pixels more.)

# %%
from matplotlib.patches import Rectangle
from scipy import ndimage

from src import claims, record, viz
from src.data import TextureMosaics

outline = TextureMosaics("outline", "val", size=96, count=64)
depth = [ndimage.distance_transform_edt(m > 0) for m in outline.masks]  # distance to the disc's edge
rf_sizes = {}
for dilated in (False, True):
    size = rf.receptive_field(nn.Sequential(*claims.DilationPair(3, dilated=dilated)), 96).size
    rf_sizes[dilated] = size
    reach = (size - 1) // 2
    far = sum(int((d > reach).sum()) for d in depth) / sum(int((m > 0).sum()) for m in outline.masks)
    print(
        src.tr(
            f"hệ số giãn {'1-2-4-8' if dilated else '1'}: RF {size}, với tới ±{reach} điểm ảnh; "
            f"{record.format_number(100 * far, 1)} % điểm ảnh của các hình tròn xa viền hơn thế",
            f"dilation {'1-2-4-8' if dilated else '1'}: RF {size}, reaches ±{reach} px; "
            f"{record.format_number(100 * far, 1)} % of the disc pixels are farther than that from the ring",
        )
    )
k = int(np.argmax([d.max() for d in depth]))  # the image with the pixel deepest inside a disc
cy, cx = np.unravel_index(int(np.argmax(depth[k])), depth[k].shape)
fig, ax = plt.subplots(figsize=(3.6, 3.6))
ax.imshow(outline.images[k])
for size, style, colour in ((rf_sizes[False], "-", "yellow"), (rf_sizes[True], "--", "cyan")):
    half = (size - 1) / 2  # the box, cut to the image
    top, left = max(cy - half, 0) - 0.5, max(cx - half, 0) - 0.5
    bottom, right = min(cy + half, 95) + 0.5, min(cx + half, 95) + 0.5
    box = Rectangle((left, top), right - left, bottom - top, fill=False, ec=colour, ls=style, lw=2)
    ax.add_patch(box)
ax.plot([cx], [cy], "y+", ms=10)
ax.set_xlim(-0.5, 95.5), ax.set_ylim(95.5, -0.5), ax.set_axis_off()
ax.set_title(
    src.tr(
        f"RF {rf_sizes[False]} (nét liền), RF {rf_sizes[True]} (nét đứt, cắt theo ảnh)\nquanh điểm ảnh nằm sâu nhất",
        f"RF {rf_sizes[False]} (solid), RF {rf_sizes[True]} (dashed, cut to the image)\nat the deepest pixel",
    ),
    fontsize=8,
)
print(
    src.tr(
        f"điểm đánh dấu cách viền {depth[k].max():.0f} điểm ảnh",
        f"the marked pixel is {depth[k].max():.0f} px from the ring",
    )
)
fig.tight_layout()

# %% [markdown] lang="vi"
# Thí nghiệm đầy đủ (`experiments/rf_dilation.py`: 128 ảnh, 8 epoch, batch 8 ảnh, 5 hạt giống ngẫu nhiên) được ghi trong `src/results/rf_dilation.json`; ô dưới chạy một phiên bản nhỏ (ít ảnh và epoch hơn, một hạt giống) và đặt nó cạnh bản ghi (trên GPU hoặc với `SRC_FULL=1`: giao thức đầy đủ). Dòng in đầu tiên là kết luận của bản ghi: hiệu ứng chỉ được nêu khi thống kê $t$ của Welch đạt ít nhất 2; nếu kết quả ngược chiều, nó cũng nói rõ như vậy.

# %% [markdown] lang="en"
# The full experiment (`experiments/rf_dilation.py`: 128 images, 8 epochs, batches of 8, 5 seeds) is recorded in `src/results/rf_dilation.json`; the cell below runs a small version (fewer images and epochs, one seed) and puts it next to the record (on a GPU or with `SRC_FULL=1`: the full protocol). The first printed line is the record's verdict: the effect is stated only when Welch's $t$ is at least 2; if the result goes the other way, it says so too.

# %%
LIVE_SCALE = 1.0 if claims.full_protocol() else 0.35
live, live_models, outline_val = claims.run("rf_dilation", seed=0, scale=LIVE_SCALE, return_models=True)
recorded = record.load("rf_dilation")
print(recorded.verdict())
for group, value in live.items():
    print(
        f"{group:28s}",
        src.tr("lần chạy này", "this run"),
        record.format_number(value),
        "|",
        src.tr("bản ghi, cùng cỡ nhỏ", "record, same small size"),
        record.format_mean_std(recorded.data["live"]["groups"][group]),
        "|",
        src.tr("bản ghi, đầy đủ", "record, full"),
        record.format_mean_std(recorded.groups[group]),
    )
shown = list(range(3))
batch = torch.stack([outline_val.dataset[i][0] for i in shown])
fig, axes = plt.subplots(len(shown), 2 + len(live_models), figsize=(2.0 * (2 + len(live_models)), 2.0 * len(shown)))
heads = [src.tr("ảnh", "image"), src.tr("nhãn thật", "ground truth"), *live_models]
for row, i in enumerate(shown):
    panels = [outline_val.dataset.images[i], viz.colorize(outline_val.dataset.masks[i], outline_val.dataset.palette)]
    panels += [viz.colorize(predict(m, batch)[row], outline_val.dataset.palette) for m in live_models.values()]
    for col, panel in enumerate(panels):
        axes[row, col].imshow(panel)
        axes[row, col].set_axis_off()
        if row == 0:
            axes[row, col].set_title(heads[col], fontsize=8)
fig.legend(
    handles=viz.legend_handles(outline_val.dataset.class_names, outline_val.dataset.palette),
    loc="lower center",
    ncol=3,
    fontsize=8,
    frameon=False,
)
fig.tight_layout(rect=(0, 0.05, 1, 1))

# %% [markdown] lang="vi"
# **Đọc kết quả.** Cột "lần chạy này" là một hạt giống với ngân sách nhỏ của notebook: so nó với "bản ghi, cùng cỡ nhỏ" (cùng ngân sách, 5 hạt giống) để thấy một lần chạy dao động bao nhiêu. Trên hình, hãy nhìn vào giữa các hình tròn lớn, xa viền: đó là chỗ mạng RF 39 không có gì để dựa vào, còn RF của mạng giãn với tới viền từ mọi điểm ảnh. Dữ liệu ở đây được dựng để RF rộng là **cần thiết**; trên dữ liệu mà một RF vừa phải đã bao được những gì nhãn phụ thuộc vào (như `shapes` ở 64 điểm ảnh, nơi RF 39 bao trọn một hình nhìn từ tâm của nó), một RF lý thuyết lớn hơn nữa không tự động cho kết quả tốt hơn: trường tiếp nhận hiệu dụng nhỏ hơn nhiều so với RF lý thuyết (mục 5). (Các hệ số giãn $1, 2, 4, 8$ không để lại lỗ: bài 02 tính độ phủ của chúng.)

# %% [markdown] lang="en"
# **Reading the results.** The "this run" column is one seed at the notebook's small budget: compare it with "record, same small size" (the same budget, 5 seeds) to see how much one run varies. In the figure, look at the middle of the large discs, far from the ring: that is where the RF-39 net has nothing to go on, while the dilated net's RF reaches the ring from every pixel. This data is built so that a wide RF is **needed**; on data where a moderate RF already covers what the label depends on (such as `shapes` at 64 pixels, where RF 39 covers a whole shape seen from its centre), a still larger theoretical RF does not automatically give a better result: the effective receptive field is much smaller than the theoretical one (section 5). (Rates $1, 2, 4, 8$ leave no holes: lesson 02 computes their coverage.)

# %% [markdown] lang="vi"
# ### Huấn luyện thay đổi ERF thế nào?
#
# So sánh ERF của mô hình RF lớn nhất lúc khởi tạo ngẫu nhiên và sau khi huấn luyện. Luo và cộng sự báo cáo rằng trên
# CIFAR-10 và CamVid, huấn luyện làm ERF **rộng ra**; ở đây mô hình nhỏ, huấn luyện ngắn, nên hãy tự đọc con số in
# ra bên dưới thay vì tin trước vào kết luận đó. ERF được lấy trung bình trên ảnh kiểm định thật, không phải nhiễu;
# vì RF 127 lớn hơn ảnh 64 điểm ảnh, ô RF ở đây là cả ảnh.

# %% [markdown] lang="en"
# ### How does training change the ERF?
#
# Compare the ERF of the largest-RF model at random initialisation and after training. Luo et al. report that on
# CIFAR-10 and CamVid training **widens** the ERF; our model is small and trained briefly, so read the numbers
# printed below rather than assume that conclusion. The ERF is averaged over real validation images, not noise;
# since RF 127 exceeds the 64-pixel image, the RF box here is the whole image.

# %%
src.seed_everything(0)
trained = models[max(models)].cpu()
untrained = rf.RFLadder(num_classes=4, level=max(LEVELS))
batch = torch.stack([val[i][0] for i in range(16)])
fig, axes = plt.subplots(1, 2, figsize=(5.5, 2.8))
for ax, (name, net) in zip(
    axes, [(src.tr("ngẫu nhiên", "random init"), untrained), (src.tr("đã huấn luyện", "trained"), trained)]
):
    erf = rf.effective_receptive_field(net, 64, inputs=batch)
    cover = rf.erf_coverage(erf, rf.receptive_field(net, 64).box())
    ax.imshow(erf, cmap="inferno")
    ax.set_title(f"{name}: {src.format_number(100 * cover, 1)}%", fontsize=9)
    ax.set_axis_off()
    print(
        src.tr(
            f"{name}: ERF chiếm {src.format_number(100 * cover, 1)} % ô RF",
            f"{name}: ERF fills {cover:.1%} of the RF box",
        )
    )
fig.tight_layout()

# %% [markdown] lang="vi"
# ## Ghi nhớ
#
# - RF của một đơn vị là vùng ảnh vào có thể ảnh hưởng tới nó; công thức $r_l = r_{l-1} + (k_l-1) d_l j_{l-1}$,
#   $j_l = j_{l-1} s_l$ cho chuỗi lớp, và phép **hợp** các ô tại chỗ nhánh hợp lại cho ResNet, DenseNet.
# - Lớp đứng sau bước trượt được khuếch đại theo bước nhảy $j$; tích chập giãn cho RF tăng nhanh mà vẫn giữ độ
#   phân giải — đó là ý tưởng của DeepLab; PSPNet thêm đặc trưng mức ảnh có RF bằng cả ảnh.
# - ERF nhỏ hơn RF lý thuyết và có dạng gần Gauss; tỉ lệ ERF/RF giảm khi mạng sâu hơn (bảng ở mục 5).
# - Một đơn vị không dùng được các điểm ảnh nằm ngoài RF của nó. Trên dữ liệu `outline`, trong đó lớp của một điểm ảnh nằm sâu
#   trong hình tròn chỉ được ghi trên đường viền, ngoài tầm của RF 39, thí nghiệm đối chứng cùng số tham số (cùng các
#   lớp, chỉ khác hệ số giãn) cho thấy mạng có RF rộng hơn phân vùng tốt hơn, với mức chênh đo được (kết luận và $t$ của bản ghi in ở mục 7). Khi RF đã bao được
#   những gì nhãn phụ thuộc vào (RF 39 bao trọn một hình của `shapes` ở 64 điểm ảnh khi nhìn từ tâm của nó), RF lớn hơn
#   nữa không tự động tốt hơn.
#
# ## Tài liệu tham khảo
# - W. Luo, Y. Li, R. Urtasun, R. Zemel. *Understanding the Effective Receptive Field in Deep Convolutional Neural
#   Networks*. NeurIPS 2016, arXiv 1701.04128.
# - A. Araujo, W. Norris, J. Sim. *Computing Receptive Fields of Convolutional Neural Networks*. Distill, 2019.
# - V. Dumoulin, F. Visin. *A guide to convolution arithmetic for deep learning*. arXiv 1603.07285.
# - F. Yu, V. Koltun. *Multi-Scale Context Aggregation by Dilated Convolutions*. arXiv 1511.07122.
# - L.-C. Chen và cộng sự. *DeepLab* (arXiv 1606.00915) và *Rethinking Atrous Convolution* (DeepLabv3, arXiv 1706.05587).
# - H. Zhao và cộng sự. *Pyramid Scene Parsing Network* (PSPNet). arXiv 1612.01105.
# - K. He và cộng sự. *Deep Residual Learning for Image Recognition*. arXiv 1512.03385.

# %% [markdown] lang="en"
# ## Key takeaways
#
# - A unit's RF is the input region that can affect it; the recurrence $r_l = r_{l-1} + (k_l-1) d_l j_{l-1}$,
#   $j_l = j_{l-1} s_l$ handles chains, and the **union** of boxes where branches merge handles ResNet and DenseNet.
# - Layers after a stride are amplified by the jump $j$; dilated convolution grows the RF fast and keeps the
#   resolution — DeepLab's idea; PSPNet adds an image-level feature whose RF is the whole image.
# - The ERF is smaller than the theoretical RF and close to a Gaussian; the ERF/RF ratio falls with depth (table in section 5).
# - A unit cannot use pixels outside its RF. On `outline`, where the class of a pixel deep inside a disc is written
#   only on the ring, out of reach of an RF of 39, the parameter-matched control (same layers, only the dilation
#   differs) shows the wider-RF net segmenting measurably better (the record's verdict and $t$ are printed in section 7). Once the RF covers what
#   the label depends on (an RF of 39 covers a whole shape of `shapes` at 64 pixels from its centre), a still larger
#   RF is not automatically better.
#
# ## References
# - W. Luo, Y. Li, R. Urtasun, R. Zemel. *Understanding the Effective Receptive Field in Deep Convolutional Neural
#   Networks*. NeurIPS 2016, arXiv 1701.04128.
# - A. Araujo, W. Norris, J. Sim. *Computing Receptive Fields of Convolutional Neural Networks*. Distill, 2019.
# - V. Dumoulin, F. Visin. *A guide to convolution arithmetic for deep learning*. arXiv 1603.07285.
# - F. Yu, V. Koltun. *Multi-Scale Context Aggregation by Dilated Convolutions*. arXiv 1511.07122.
# - L.-C. Chen et al. *DeepLab* (arXiv 1606.00915) and *Rethinking Atrous Convolution* (DeepLabv3, arXiv 1706.05587).
# - H. Zhao et al. *Pyramid Scene Parsing Network* (PSPNet). arXiv 1612.01105.
# - K. He et al. *Deep Residual Learning for Image Recognition*. arXiv 1512.03385.
