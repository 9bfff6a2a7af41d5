# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   lesson:
#     summary:
#       vi: "RepVGG có SE: tái tham số hoá cấu trúc (gộp BN, 1x1 và nhánh đồng nhất vào một 3x3), DeepLabV3+"
#       en: "RepVGG with SE: structural re-parameterisation (BN, 1x1 and identity into one 3x3), DeepLabV3+"
# ---

# %% [markdown] lang="vi"
# # Bài 08 — RepVGG có SE: tái tham số hoá cấu trúc, và DeepLabV3+
#
# Bài viết tiếng Việt về SE, điểm xuất phát của khoá học này (bài 06), có hẹn một "phần 2": đặt SE vào RepVGG. Bài này chính là phần đó.
#
# **Mục tiêu của bài**
#
# 1. Hiểu tái tham số hoá cấu trúc (*structural re-parameterisation*) của RepVGG: lúc huấn luyện mỗi khối có ba nhánh (3x3 + BN, 1x1 + BN, đồng nhất + BN), lúc triển khai (*deploy*) chỉ còn **một** tích chập 3x3 có bias.
# 2. Tự suy ra, rồi kiểm tra bằng số, ba phép gộp: batch norm vào tích chập, nhân 1x1 vào nhân 3x3 (đệm số 0), nhánh đồng nhất vào nhân 3x3.
# 3. Viết hai phép gộp đó (bài tập có kiểm tra tự động).
# 4. So trường tiếp nhận của một chồng 3x3 thẳng với ResNet cùng độ sâu (công cụ của bài 01).
# 5. Đọc tốc độ và bộ nhớ đo được khi triển khai RepVGG-A0 trên CPU.
# 6. Đặt SE vào RepVGG và DeepLabV3+ vào cạnh DeepLabV3, với 5 hạt giống ngẫu nhiên và thống kê $t$ của Welch.

# %% [markdown] lang="en"
# # Lesson 08 — RepVGG with SE: structural re-parameterisation, and DeepLabV3+
#
# The SE blog post this course answers promised a "part 2": putting SE into RepVGG. This is that part.
#
# **Goals**
#
# 1. Understand RepVGG's structural re-parameterisation: at training time every block has three branches (3x3 + BN, 1x1 + BN, identity + BN); at deploy time only **one** 3x3 convolution with a bias is left.
# 2. Derive, then check numerically, the three merges: batch norm into a convolution, a 1x1 kernel into a 3x3 kernel (zero padding), the identity into a 3x3 kernel.
# 3. Write two of those merges yourself (exercises with automatic checks).
# 4. Compare the receptive field of a plain 3x3 stack with a ResNet of the same depth (lesson 01's tool).
# 5. Read the measured deploy-time speed and memory of RepVGG-A0 on the CPU.
# 6. Put SE into RepVGG, and DeepLabV3+ next to DeepLabV3, with 5 seeds and Welch's $t$.

# %%
import copy

import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from src import checks, claims, record, repvgg
from src.receptive_field import effective_receptive_field, erf_coverage, receptive_field

src.seed_everything(0)
torch.set_num_threads(1)  # tiny models: one thread is as fast, and robust on a shared CPU
device = src.get_device()
print(device)

# %% [markdown] lang="vi"
# ## 1. Ý tưởng: huấn luyện nhiều nhánh, suy luận một nhánh
#
# VGG là một chồng tích chập 3x3 và ReLU: đơn giản, nhanh trên phần cứng (một loại phép toán, không phải giữ đầu vào của khối để cộng sau), nhưng khó huấn luyện khi sâu. ResNet dễ huấn luyện nhờ kết nối phần dư (*residual connection*), nhưng lúc suy luận phải giữ nhánh đồng nhất trong bộ nhớ cho tới phép cộng. Ding và cộng sự (2021) lấy cả hai: khi huấn luyện, khối RepVGG là
#
# $$y = \mathrm{ReLU}\big(\mathrm{BN}_3(W_3 * x) + \mathrm{BN}_1(W_1 * x) + \mathrm{BN}_0(x)\big),$$
#
# (nhánh đồng nhất $\mathrm{BN}_0$ chỉ có khi số kênh vào bằng số kênh ra và bước trượt là 1). Mọi thứ bên trong ReLU đều **tuyến tính** theo $x$ khi BN ở chế độ đánh giá (`eval`), nên có thể viết lại thành **một** tích chập 3x3 $W' * x + b'$. Đó là tái tham số hoá cấu trúc: cấu trúc lúc huấn luyện và lúc triển khai khác nhau, hàm số thì giống hệt.
#
# **Gộp BN vào tích chập.** Ở chế độ `eval`, với $z = W * x$ (không bias), kênh ra $o$ của BN là $\gamma_o \frac{z_o - \mu_o}{\sqrt{\sigma_o^2 + \epsilon}} + \beta_o$. Đặt $s_o = \gamma_o / \sqrt{\sigma_o^2 + \epsilon}$:
#
# $$W'_{o} = s_o\, W_{o}, \qquad b'_o = \beta_o - \mu_o\, s_o .$$
#
# Hệ số $s_o$ nhân cả **lát** $W_o$ (mọi kênh vào, mọi vị trí của nhân) của kênh ra $o$; $\epsilon$ nằm **trong** căn; $\sigma^2$ là phương sai tích luỹ (`running_var`), nên phải lấy căn.
#
# **Nhân 1x1 vào nhân 3x3.** Với đệm 1 cho nhánh 3x3 và đệm 0 cho nhánh 1x1, hai đầu ra thẳng hàng; nhân 1x1 $K$ chính là nhân 3x3 bằng 0 ở mọi nơi trừ **tâm**: $\tilde K[:, :, 1, 1] = K[:, :, 0, 0]$ (`F.pad(K, [1, 1, 1, 1])`). Đặt nó ở góc sẽ dịch đầu ra đi một điểm ảnh.
#
# **Nhánh đồng nhất vào nhân 3x3.** $x \mapsto x$ là tích chập 3x3 có nhân $I[o, i, 1, 1] = 1$ khi $i = o$ và 0 ở mọi nơi khác (chỉ nối kênh $o$ với chính nó, chỉ ở tâm); với tích chập nhóm (*groups*) $g$, nhân có $C/g$ kênh vào nên số 1 nằm ở $I[o,\, o \bmod (C/g),\, 1, 1]$. Sau đó gộp $\mathrm{BN}_0$ vào $I$ như trên. Cuối cùng các nhân và các bias **cộng** lại.

# %% [markdown] lang="en"
# ## 1. The idea: train with many branches, infer with one
#
# VGG is a stack of 3x3 convolutions and ReLUs: simple and fast on hardware (one kind of operation, no block input kept around for a later addition), but hard to train when deep. ResNet trains easily thanks to its residual connections, but at inference it must keep the identity branch in memory until the addition. Ding et al. (2021) take both: at training time a RepVGG block is
#
# $$y = \mathrm{ReLU}\big(\mathrm{BN}_3(W_3 * x) + \mathrm{BN}_1(W_1 * x) + \mathrm{BN}_0(x)\big),$$
#
# (the identity branch $\mathrm{BN}_0$ exists only when the input and output channels match and the stride is 1). Everything inside the ReLU is **linear** in $x$ once BN is in eval mode, so it can be rewritten as **one** 3x3 convolution $W' * x + b'$. That is structural re-parameterisation: the structure differs between training and deployment, the function is exactly the same.
#
# **BN into a convolution.** In eval mode, with $z = W * x$ (no bias), BN's output channel $o$ is $\gamma_o \frac{z_o - \mu_o}{\sqrt{\sigma_o^2 + \epsilon}} + \beta_o$. Let $s_o = \gamma_o / \sqrt{\sigma_o^2 + \epsilon}$:
#
# $$W'_{o} = s_o\, W_{o}, \qquad b'_o = \beta_o - \mu_o\, s_o .$$
#
# The factor $s_o$ scales the whole **slice** $W_o$ (every input channel, every tap) of output channel $o$; $\epsilon$ goes **inside** the root; $\sigma^2$ is the running variance (`running_var`), so its root must be taken.
#
# **A 1x1 kernel into a 3x3 kernel.** With padding 1 for the 3x3 branch and 0 for the 1x1 branch, the two outputs line up; the 1x1 kernel $K$ is the 3x3 kernel that is zero everywhere except at the **centre**: $\tilde K[:, :, 1, 1] = K[:, :, 0, 0]$ (`F.pad(K, [1, 1, 1, 1])`). Putting it in a corner would shift the output by one pixel.
#
# **The identity into a 3x3 kernel.** $x \mapsto x$ is the 3x3 convolution with kernel $I[o, i, 1, 1] = 1$ when $i = o$ and 0 everywhere else (channel $o$ linked to itself only, at the centre only); for a grouped convolution with $g$ groups the kernel has $C/g$ input channels, so the 1 sits at $I[o,\, o \bmod (C/g),\, 1, 1]$. Then BN$_0$ is folded into $I$ as above. Finally the kernels and the biases **add up**.

# %% [markdown] lang="vi"
# Kiểm tra bằng số trên một khối thật (`repvgg.RepVGGBlock`), với thống kê BN ngẫu nhiên để phép gộp không tầm thường: đầu ra của ba nhánh và của một tích chập 3x3 duy nhất (`equivalent_kernel_bias`), ở bước trượt 1 và 2, có và không có nhánh đồng nhất.

# %% [markdown] lang="en"
# A numerical check on a real block (`repvgg.RepVGGBlock`), with random BN statistics so that the merge is not trivial: the output of the three branches against one single 3x3 convolution (`equivalent_kernel_bias`), at stride 1 and 2, with and without the identity branch.


# %%
def randomise_bn(module):
    """Random running statistics and affine parameters (a trained network's BN is far from the identity)."""
    for bn in module.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.1, 2)
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-1, 1)
    return module.eval()


rows = []
for c_in, c_out, stride in [(8, 8, 1), (8, 16, 1), (8, 16, 2)]:
    block = randomise_bn(repvgg.RepVGGBlock(c_in, c_out, stride))
    x = torch.randn(2, c_in, 15, 11)  # odd, non-square sizes on purpose
    kernel, bias = block.equivalent_kernel_bias()
    with torch.no_grad():
        merged = F.relu(F.conv2d(x, kernel, bias, stride=stride, padding=1))
        rows.append(
            {
                "C_in -> C_out": f"{c_in} -> {c_out}",
                "stride": stride,
                src.tr("nhánh đồng nhất", "identity branch"): block.identity is not None,
                "max |diff|": src.decimal_commas(f"{(merged - block(x)).abs().max().item():.1e}"),
            }
        )
pd.DataFrame(rows)

# %% [markdown] lang="vi"
# Sai khác lớn nhất ở cột cuối chỉ là sai số làm tròn của số thực 32 bit: phép gộp là chính xác. Nó chỉ đúng ở chế độ **eval**: ở chế độ huấn luyện BN dùng thống kê của *batch*, không phải một phép biến đổi tuyến tính cố định.
#
# ## 2. Bài tập 08-1 — gộp BN vào một tích chập
#
# Viết `fuse_bn(kernel, gamma, beta, running_mean, running_var, eps)` trả về bộ đôi `(kernel_moi, bias_moi)` (hai tensor) theo công thức ở mục 1. `kernel` có dạng $C_{out} \times C_{in} \times k \times k$, các tham số BN có độ dài $C_{out}$.

# %% [markdown] lang="en"
# The largest difference in the last column is only 32-bit floating-point rounding: the merge is exact. It holds in **eval** mode only: in training mode BN uses the batch statistics, not a fixed linear map.
#
# ## 2. Exercise 08-1 — fuse BN into a convolution
#
# Write `fuse_bn(kernel, gamma, beta, running_mean, running_var, eps)` returning the pair `(new_kernel, new_bias)` (two tensors) of the formula in section 1. `kernel` has shape $C_{out} \times C_{in} \times k \times k$, the BN parameters have length $C_{out}$.


# %%
def fuse_bn(kernel, gamma, beta, running_mean, running_var, eps):
    ### BEGIN SOLUTION
    std = (running_var + eps).sqrt()
    scale = gamma / std
    return kernel * scale.reshape(-1, 1, 1, 1), beta - running_mean * scale
    ### END SOLUTION


# %%
result = checks.check_fuse_bn(fuse_bn)

# %% [markdown] lang="vi"
# ## 3. Bài tập 08-2 — gộp ba nhánh thành một nhân 3x3
#
# Mỗi nhánh đã được gộp BN (bài tập 08-1): nhánh 3x3 cho `(k3, b3)`, nhánh 1x1 cho `(k1, b1)` với `k1` dạng $C_{out} \times C_{in}/g \times 1 \times 1$; nhánh đồng nhất, nếu có, là phép nhân kênh $o$ với `id_scale[o]` rồi cộng `id_bias[o]` (BN$_0$ đã gộp), còn không có thì `id_scale` và `id_bias` là `None`. Viết `merge_branches(k3, b3, k1, b1, id_scale, id_bias, groups=1)` trả về `(kernel, bias)` của **một** tích chập 3x3 (đệm 1) cho cùng đầu ra với tổng ba nhánh.

# %% [markdown] lang="en"
# ## 3. Exercise 08-2 — merge the three branches into one 3x3 kernel
#
# Every branch has had its BN folded already (exercise 08-1): the 3x3 branch gives `(k3, b3)`, the 1x1 branch `(k1, b1)` with `k1` of shape $C_{out} \times C_{in}/g \times 1 \times 1$; the identity branch, when there is one, multiplies channel $o$ by `id_scale[o]` and adds `id_bias[o]` (BN$_0$ folded), otherwise `id_scale` and `id_bias` are `None`. Write `merge_branches(k3, b3, k1, b1, id_scale, id_bias, groups=1)` returning `(kernel, bias)` of **one** 3x3 convolution (padding 1) with the same output as the sum of the three branches.


# %%
def merge_branches(k3, b3, k1, b1, id_scale, id_bias, groups=1):
    ### BEGIN SOLUTION
    kernel = k3 + F.pad(k1, [1, 1, 1, 1])
    bias = b3 + b1
    if id_scale is not None:
        channels, per_group = k3.shape[0], k3.shape[1]
        identity = torch.zeros_like(k3)
        rows = torch.arange(channels)
        identity[rows, rows % per_group, 1, 1] = id_scale
        kernel, bias = kernel + identity, bias + id_bias
    return kernel, bias
    ### END SOLUTION


# %%
result = checks.check_merge_branches(merge_branches)

# %% [markdown] lang="vi"
# `repvgg.deploy(model)` làm đúng hai bước đó cho mọi khối của một mạng (bằng mã tham chiếu của `src`, không dùng hàm của bạn): mỗi khối chỉ còn một `nn.Conv2d` 3x3 có bias. Trên RepVGG-A0 (bảng 2 và 3 của bài báo: năm tầng có 1, 2, 4, 14, 1 khối, $a = 0{,}75$, $b = 2{,}5$; 1000 lớp ImageNet), ta đếm tham số trước và sau, và so đầu ra trên một ảnh ngẫu nhiên:

# %% [markdown] lang="en"
# `repvgg.deploy(model)` does exactly those two steps for every block of a network (with `src`'s reference code, not your functions): each block is left with one 3x3 `nn.Conv2d` with a bias. On RepVGG-A0 (the paper's Tables 2 and 3: five stages of 1, 2, 4, 14, 1 blocks, $a = 0.75$, $b = 2.5$; 1000 ImageNet classes) we count the parameters before and after, and compare the outputs on a random image:

# %%
a0 = randomise_bn(repvgg.repvgg_a0())
a0_deployed = repvgg.deploy(copy.deepcopy(a0))
x = torch.randn(1, 3, 64, 80)
with torch.no_grad():
    out_train = a0(x)
    a0_diff = ((out_train - a0_deployed(x)).abs().max() / out_train.abs().max()).item()  # relative
a0_params = {form: sum(p.numel() for p in m.parameters()) for form, m in (("train", a0), ("deploy", a0_deployed))}
PAPER_A0_DEPLOY = 8.30e6  # Ding et al., Table 4: RepVGG-A0 has 8.30M parameters once deployed
print(
    src.tr(
        f"RepVGG-A0: {a0_params['train'] / 1e6:.2f}M tham số khi huấn luyện, {a0_params['deploy'] / 1e6:.3f}M khi "
        f"triển khai (bảng 4 của bài báo: {PAPER_A0_DEPLOY / 1e6:.2f}M); sai khác tương đối lớn nhất của đầu ra "
        f"{a0_diff:.1e}".replace(".", ","),
        f"RepVGG-A0: {a0_params['train'] / 1e6:.2f}M parameters at training time, {a0_params['deploy'] / 1e6:.3f}M "
        f"deployed (the paper's Table 4: {PAPER_A0_DEPLOY / 1e6:.2f}M); largest relative output difference {a0_diff:.1e}",
    )
)

# %% [markdown] lang="vi"
# Số tham số khi triển khai in ở trên lệch chưa tới 0,01M so với 8,30M ở bảng 4 của bài báo (in cạnh nó; làm tròn tới hai chữ số thập phân, số của ta là 8,31M); số khi huấn luyện lớn hơn vì còn các nhân 1x1 và các BN của mọi nhánh (`tests/test_repvgg.py` so nó với một cài đặt độc lập, của `timm`).
#
# ## 4. Trường tiếp nhận: chồng 3x3 thẳng và ResNet cùng độ sâu
#
# Nhánh 1x1 và nhánh đồng nhất không làm trường tiếp nhận lý thuyết lớn thêm: đường dài nhất qua mạng vẫn là tám tích chập 3x3. Ta đo bằng `receptive_field` của bài 01 trên bốn mạng cùng tám tầng 3x3 và cùng 16 kênh: một chồng 3x3 + ReLU thẳng (kiểu VGG), RepVGG lúc huấn luyện, cùng RepVGG đó sau khi triển khai, và ResNet (bốn khối cơ bản, mỗi khối hai tích chập 3x3). Trường tiếp nhận **hiệu dụng** (bài 01; Luo và cộng sự) thì khác: ta đo phần của ô trường tiếp nhận lý thuyết chứa 95 % độ lớn gradient, lúc khởi tạo ngẫu nhiên.

# %% [markdown] lang="en"
# The deployed count printed above is within 0.01M of the 8.30M in the paper's Table 4 (printed next to it; rounded to two decimals, ours would read 8.31M); the training-time count is larger because of the 1x1 kernels and the BNs of every branch (`tests/test_repvgg.py` checks it against an independent implementation, `timm`'s).
#
# ## 4. Receptive field: a plain 3x3 stack and a ResNet of the same depth
#
# The 1x1 and identity branches do not enlarge the theoretical receptive field: the longest path through the network is still eight 3x3 convolutions. We measure it with lesson 01's `receptive_field` on four networks with the same eight 3x3 layers and the same 16 channels: a plain 3x3 + ReLU stack (VGG style), RepVGG at training time, the same RepVGG once deployed, and a ResNet (four basic blocks of two 3x3 convolutions each). The **effective** receptive field (lesson 01; Luo et al.) is another matter: we measure the fraction of the theoretical RF box that holds 95 % of the gradient magnitude, at random initialisation.

# %%
from src.backbones import BasicBlock

src.seed_everything(0)
width, depth = 16, 8
stacks = {
    src.tr("3x3 thẳng (VGG)", "plain 3x3 (VGG)"): nn.Sequential(
        *[nn.Sequential(nn.Conv2d(3 if i == 0 else width, width, 3, 1, 1), nn.ReLU()) for i in range(depth)]
    ),
    src.tr("RepVGG (huấn luyện)", "RepVGG (training)"): nn.Sequential(
        *[repvgg.RepVGGBlock(3 if i == 0 else width, width) for i in range(depth)]
    ),
    "ResNet": nn.Sequential(*[BasicBlock(3 if i == 0 else width, width) for i in range(depth // 2)]),
}
stacks[src.tr("RepVGG (triển khai)", "RepVGG (deployed)")] = repvgg.deploy(
    copy.deepcopy(stacks[src.tr("RepVGG (huấn luyện)", "RepVGG (training)")])
)
rf_rows, erfs = {}, {}
for name, net in stacks.items():
    report = receptive_field(net.eval(), 64)
    erfs[name] = effective_receptive_field(net, 64, samples=4)
    rf_rows[name] = {
        src.tr("tầng 3x3 trên đường dài nhất", "3x3 layers on the longest path"): depth,
        src.tr("trường tiếp nhận (điểm ảnh)", "receptive field (px)"): report.size,
        src.tr(
            "phần ô RF chứa 95 % gradient", "share of the RF box holding 95 % of the gradient"
        ): record.format_number(erf_coverage(erfs[name], report.box()), 3),
    }
fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
for ax, (name, erf) in zip(axes, erfs.items()):
    ax.imshow(erf[16:48, 16:48], cmap="magma")
    ax.set_title(name, fontsize=9)
    ax.axis("off")
fig.suptitle(src.tr("trường tiếp nhận hiệu dụng (32 x 32 ở giữa)", "effective receptive field (central 32 x 32)"))
plt.show()
pd.DataFrame.from_dict(rf_rows, orient="index")

# %% [markdown] lang="vi"
# Bảng cho cùng một trường tiếp nhận lý thuyết cho cả bốn mạng. Cột cuối và hình thì cho thấy, lúc khởi tạo, các nhánh thêm vào (1x1 và đồng nhất) làm gradient dồn về tâm như các kết nối phần dư của ResNet (cột cuối bằng nhau, nhưng trên hình tâm của ResNet sáng hơn hẳn: gradient của nó dồn mạnh hơn), và RepVGG sau khi triển khai có **đúng** trường hiệu dụng của nó lúc huấn luyện (cùng một hàm số), dù về cấu trúc nó là một chồng 3x3 thẳng như mạng thứ nhất. Bài này chỉ đo lúc khởi tạo, không huấn luyện các chồng này. Ding và cộng sự giải thích lợi ích của các nhánh khi huấn luyện bằng cách xem ResNet như một tập hợp ngầm (*implicit ensemble*) của nhiều mạng nông hơn, theo Veit và cộng sự (mục 1 và mục 3.2 của bài báo: $n$ khối RepVGG cho $3^n$ thành viên), và đo lợi ích đó bằng thí nghiệm loại bỏ (*ablation*, mục 4.2, bảng 6): RepVGG-B0 đạt độ chính xác top-1 72,39% trên ImageNet khi bỏ cả nhánh đồng nhất lẫn nhánh 1x1, và 75,14% khi có cả hai.

# %% [markdown] lang="en"
# The table gives the same theoretical receptive field for all four networks. The last column and the figure show that, at initialisation, the extra branches (1x1 and identity) concentrate the gradient at the centre as the ResNet's residual connections do (the last column ties, but in the figure the ResNet's centre is much brighter: its gradient is more concentrated), and that the deployed RepVGG has **exactly** the effective field of its training form (the same function), although structurally it is a plain 3x3 stack like the first network. This lesson measures initialisation only; it does not train these stacks. Ding et al. explain the branches' benefit for training by viewing a ResNet as an implicit ensemble of many shallower networks, after Veit et al. (the paper's Sections 1 and 3.2: $n$ RepVGG blocks give $3^n$ members), and measure that benefit by ablation (Section 4.2, Table 6): RepVGG-B0 reaches 72.39% top-1 accuracy on ImageNet without the identity and 1x1 branches, and 75.14% with both.

# %% [markdown] lang="vi"
# ## 5. Triển khai nhanh hơn bao nhiêu? (đo trên CPU)
#
# `benchmarks/bench_repvgg_deploy.py` đo độ trễ (*latency*) của RepVGG-A0 ở hai dạng, *batch* 1, ảnh 224 x 224, chế độ `eval`, 2 luồng, hai dạng chạy xen kẽ từng vòng (để tải của máy đánh vào cả hai như nhau), và bộ nhớ kích hoạt đỉnh; kết quả nằm trong `src/results/repvgg_deploy.json`. Ô dưới đọc bản ghi đó và vẽ từng vòng đo.

# %% [markdown] lang="en"
# ## 5. How much faster is the deployed form? (measured on the CPU)
#
# `benchmarks/bench_repvgg_deploy.py` measures the latency of RepVGG-A0 in both forms, batch 1, 224 x 224 images, eval mode, 2 threads, the two forms alternating round by round (so that machine load hits both alike), and the peak activation memory; the result is in `src/results/repvgg_deploy.json`. The cell below reads that record and plots every timing round.

# %%
bench = record.load("repvgg_deploy")
medians = {form: float(pd.Series(v).median()) for form, v in bench.groups.items()}
memory = bench.data["peak_activation_bytes"]
saved = 100 * (1 - memory["deploy_form"] / memory["train_form"])
deploy_table = pd.DataFrame(
    {
        src.tr("độ trễ trung vị (ms)", "median latency (ms)"): {
            f: record.format_number(m, 0) for f, m in medians.items()
        },
        src.tr("bộ nhớ kích hoạt đỉnh (MiB)", "peak activation memory (MiB)"): {
            f: record.format_number(memory[f] / 2**20, 1) for f in medians
        },
        src.tr("tham số", "parameters"): bench.data["params"],
    }
)
print(
    src.tr(
        f"tỉ số độ trễ huấn luyện / triển khai: {record.format_number(bench.data['ratio_of_medians'], 2)} "
        f"(Welch t = {record.format_number(bench.t, 1)}, {len(bench.data['seeds'])} vòng; tải của máy lúc đo: "
        f"{record.format_number(bench.data['load_average'], 1)}); bộ nhớ kích hoạt đỉnh giảm {saved:.0f} %",
        f"train / deploy latency ratio: {record.format_number(bench.data['ratio_of_medians'], 2)} "
        f"(Welch t = {record.format_number(bench.t, 1)}, {len(bench.data['seeds'])} rounds; machine load while "
        f"measuring: {record.format_number(bench.data['load_average'], 1)}); peak activation memory down {saved:.0f} %",
    )
)
fig, ax = plt.subplots(figsize=(6, 3))
for form, values in bench.groups.items():
    ax.plot(values, "o-", label=form)
ax.set_xlabel(src.tr("vòng đo (hai dạng xen kẽ)", "timing round (the two forms alternate)"))
ax.set_ylabel(src.tr("độ trễ (ms)", "latency (ms)"))
ax.set_ylim(bottom=0)
ax.legend()
plt.show()
deploy_table

# %% [markdown] lang="vi"
# Tỉ số và $t$ in ở trên là của bản ghi. Máy đo là một CPU dùng chung: độ trễ tuyệt đối của từng vòng dao động theo tải (hình), nên ta so **tỉ số các trung vị** của hai dạng chạy xen kẽ chứ không so một con số đơn lẻ. Bản ghi được đo khi máy chịu tải nặng (tải in ở trên); trên một máy rảnh, tỉ số có thể khác. Bộ nhớ kích hoạt đỉnh nhỏ hơn; Ding và cộng sự giải thích điều này (mục 3.1, hình 3): một khối nhiều nhánh phải giữ đầu vào và kết quả của từng nhánh cho tới phép cộng, còn một chồng thẳng giải phóng đầu vào của mỗi tầng ngay khi tầng đó tính xong; ta chỉ đo tổng, không đo riêng từng phần. Bài báo đo tốc độ trên GPU (1080Ti, *batch* 128): bỏ các nhánh bằng tái tham số hoá làm RepVGG-B0 nhanh lên rõ rệt (mục 4.2, bảng 6), và các tác giả quy tốc độ của chồng 3x3 cho các nhân 3x3 được tối ưu kỹ (Winograd trong cuDNN và MKL, mục 2.4) cùng với chi phí truy cập bộ nhớ thấp và mức song song cao của một mạng chỉ có một phép toán trong mỗi khối (mục 3.1). Đó là mô hình khác, phần cứng khác và *batch* khác, nên ta không so các con số của họ với tỉ số ở trên.
#
# ## 6. SE bên trong RepVGG
#
# Bài báo RepVGG (CVPR 2021) không dùng SE. Biến thể SE nằm trong mã của các tác giả (mô hình RepVGG-D2se, thêm vào kho mã tháng 4 năm 2021 và được ghi rõ là không có trong bài báo CVPR): nó đặt một khối SE trong **mỗi** khối, trên tổng của ba nhánh, **trước** ReLU, với $C/16$ nơ-ron nén; các mô hình RepVGGplus ra đời sau thì đặt SE **sau** ReLU. `timm` cài đặt giống như vậy (`repvgg_d2se`: SE trên tổng các nhánh, trước hàm kích hoạt, tỉ lệ 1/16). Vì SE phụ thuộc vào nội dung ảnh (một phép gộp toàn cục rồi sigmoid), nó **không** gộp được vào tích chập: sau khi triển khai, mỗi khối là tích chập 3x3 đã gộp, rồi SE, rồi ReLU. Mã gốc nén bằng `avg_pool2d(kernel_size=W)`, chỉ là phép gộp toàn cục khi ảnh vuông (bài 06); `src.se.SEBlock` gộp trên toàn bộ $H \times W$, điều mà ảnh phân vùng cần.
#
# Để SE có thể giúp, ta dùng lại bộ `cue` của bài 03 và 06 (lớp của các hình tròn xám do một ô màu ở góc ảnh quyết định) và một mạng RepVGG nhỏ (`src.repvgg_probe.RepVGGProbe`: bốn khối RepVGG, output stride 4) có hoặc không có SE trong mỗi khối. Thí nghiệm đầy đủ (`experiments/repvgg_se_cue.py`, 5 hạt giống) được ghi trong `src/results/repvgg_se_cue.json`; ô dưới chạy một phiên bản nhỏ (trên GPU hoặc với `SRC_FULL=1`: giao thức đầy đủ), đặt nó cạnh bản ghi, rồi triển khai mạng có SE vừa huấn luyện và so đầu ra.

# %% [markdown] lang="en"
# The ratio and $t$ printed above are the record's. The machine is a shared CPU: the absolute latency of each round moves with the load (figure), so we compare the **ratio of the medians** of the two alternating forms rather than any single number. The record was taken under a heavy load (printed above); on an idle machine the ratio may differ. Peak activation memory is smaller; Ding et al. explain why (Section 3.1, Fig. 3): a multi-branch block must keep its input and every branch's result until the addition, while a plain stack frees each layer's input as soon as that layer is done; we measure only the total, not its parts. The paper measures speed on a GPU (1080Ti, batch 128): removing the branches by re-parameterisation makes RepVGG-B0 clearly faster (Section 4.2, Table 6), and the authors credit the speed of 3x3 stacks to highly optimised 3x3 kernels (Winograd in cuDNN and MKL, Section 2.4) and to the low memory-access cost and high parallelism of a network with one operator per block (Section 3.1). That is another model, other hardware and another batch size, so we do not compare their numbers with the ratio above.
#
# ## 6. SE inside RepVGG
#
# The RepVGG paper (CVPR 2021) has no SE. The SE variant is in the authors' code (the RepVGG-D2se model, added to the repository in April 2021 and marked there as not in the CVPR paper): it puts one SE block in **every** block, on the sum of the three branches, **before** the ReLU, with $C/16$ squeeze neurons; the later RepVGGplus models put SE **after** the ReLU. `timm` does the same (`repvgg_d2se`: SE on the sum of the branches, before the activation, ratio 1/16). Because SE depends on the image (a global pooling, then a sigmoid) it can **not** be folded into the convolution: once deployed, each block is the fused 3x3 convolution, then SE, then the ReLU. The original code squeezes with `avg_pool2d(kernel_size=W)`, a global pooling only on square images (lesson 06); `src.se.SEBlock` pools over the whole $H \times W$, which segmentation inputs need.
#
# So that SE can help, we reuse the `cue` data of lessons 03 and 06 (the class of the grey discs is set by a coloured square in a corner) and a small RepVGG (`src.repvgg_probe.RepVGGProbe`: four RepVGG blocks, output stride 4) with or without SE in every block. The full experiment (`experiments/repvgg_se_cue.py`, 5 seeds) is recorded in `src/results/repvgg_se_cue.json`; the cell below runs a small version (on a GPU or with `SRC_FULL=1`: the full protocol), puts it next to the record, then deploys the trained SE network and compares its outputs.


# %%
def claim_table(name, live, metric_label):
    """This run next to the recorded small-size runs and the recorded full protocol (mean ± std over seeds)."""
    recorded = record.load(name)
    recorded_live = recorded.data["live"]["groups"]
    table = pd.DataFrame(
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
    table.index.name = metric_label
    return recorded, table


LIVE_SCALE = 1.0 if claims.full_protocol() else 0.35
se_live, se_models, cue_val = claims.run("repvgg_se_cue", seed=0, scale=LIVE_SCALE, return_models=True)
se_record, se_table = claim_table("repvgg_se_cue", se_live, "val mIoU")
probe = se_models["RepVGG + SE"].cpu().eval()
images = next(iter(cue_val))[0][:8]
with torch.no_grad():
    before = probe(images)
    after = repvgg.deploy(copy.deepcopy(probe))(images)
print(se_record.verdict())
print(
    src.tr(
        f"mạng có SE sau khi triển khai: sai khác lớn nhất của logit {(before - after).abs().max().item():.1e}".replace(
            ".", ","
        ),
        f"the SE network once deployed: largest logit difference {(before - after).abs().max().item():.1e}",
    )
)
se_table

# %% [markdown] lang="vi"
# Dòng in đầu tiên là kết luận của bản ghi: hiệu ứng chỉ được nêu khi $t$ của Welch qua 5 hạt giống đạt ít nhất 2, nếu không thì nói rõ là không đo được khác biệt. So với bài 06 (SE sau mỗi tích chập của một mạng thẳng), ở đây SE nằm trong khối RepVGG với rất ít nơ-ron nén ($C/16$, tức 1 hoặc 2 ở độ rộng 16 và 32), mà vẫn đủ: lớp của các hình tròn chỉ cần **một** thông tin toàn cục (ô màu là đỏ hay xanh lam). Dòng thứ hai cho thấy mạng có SE vẫn triển khai chính xác: chỉ các nhánh tích chập được gộp, SE giữ nguyên.
#
# ## 7. DeepLabV3+: từ ASPP tới bộ mã hoá - bộ giải mã
#
# DeepLabV3 tính đặc trưng ở output stride 16 (hoặc 8) rồi phóng to logit bằng nội suy song tuyến 16 (hoặc 8) lần; Chen và cộng sự (2018) gọi đó là một bộ giải mã đơn sơ, có thể không khôi phục được chi tiết của vật (mục 3.1): một nét mảnh hơn một ô 16 điểm ảnh khó vẽ lại cho đúng. Họ thêm một **bộ giải mã** (*decoder*) nhẹ: đặc trưng mức thấp ở output stride 4 (`layer1`; trong bài báo là Conv2 của ResNet-101) qua một tích chập 1x1 còn 48 kênh (để 256 kênh của chúng không lấn át 256 kênh của bộ mã hoá), được nối với đầu ra ASPP đã phóng to 4 lần, qua hai tích chập 3x3 có 256 kênh (mục 4.1, bảng 1 và 2), rồi tới lớp phân loại; logit ra ở 1/4 và chỉ phóng to 4 lần. Đây là cây cầu nối họ "tích chập giãn + gộp kim tự tháp" với họ mã hoá - giải mã của bài 00 và bài 05.
#
# Để kết nối tắt (*skip connection*) ở OS 4 có thể giúp, ta dùng bộ `thin` của bài 05 (nét sáng rộng 1,5-3 điểm ảnh, và một đĩa lớn) ở 64 điểm ảnh, mạng xương sống `tiny` ở OS 16 (bản đồ 4 x 4), ASPP với các hệ số giãn (1, 2, 3) — đều nhỏ hơn cạnh bản đồ, nên không nhánh nào chỉ nhìn thấy phần đệm — và 64 kênh; tích chập 1x1 của bộ giải mã giữ nguyên 16 kênh của `layer1` (ở đây không giảm kênh: 16 trên 80 kênh sau khi nối, tỉ lệ gần với 48 trên 304 của bài báo; bảng 1 của bài báo cũng thử 16 kênh), và hai tích chập 3x3 của nó có 64 kênh. Hai mô hình chỉ khác nhau ở bộ giải mã (`src.repvgg_probe.deeplab_pair`). Ta đo cả điểm F trên biên (*boundary F-score*, bài 00) lẫn mIoU, mỗi cái một bản ghi (`experiments/deeplabv3plus.py`, 5 hạt giống, cùng các lần huấn luyện).

# %% [markdown] lang="en"
# The first printed line is the record's verdict: the effect is stated only when Welch's $t$ over 5 seeds is at least 2, otherwise it says plainly that no difference was measured. Compared with lesson 06 (SE after every convolution of a plain network), SE sits here inside the RepVGG block with very few squeeze neurons ($C/16$, i.e. 1 or 2 at widths 16 and 32), and that is enough: the class of the discs needs **one** global piece of information (is the square red or blue). The second line shows that the SE network still deploys exactly: only the convolution branches are merged, SE stays as it is.
#
# ## 7. DeepLabV3+: from ASPP to an encoder-decoder
#
# DeepLabV3 computes its features at output stride 16 (or 8) and upsamples the logits bilinearly 16 (or 8) times; Chen et al. (2018) call this a naive decoder that may not recover object details (Section 3.1): a stroke thinner than one 16-pixel cell is hard to draw back correctly. They add a light **decoder**: the low-level features at output stride 4 (`layer1`; Conv2 of ResNet-101 in the paper) go through a 1x1 convolution down to 48 channels (so that their 256 channels do not outweigh the encoder's 256), are concatenated with the ASPP output upsampled 4 times, pass two 3x3 convolutions of 256 channels (Section 4.1, Tables 1 and 2), then the classifier; the logits come out at 1/4 and are upsampled only 4 times. It is the bridge between the "atrous + pyramid pooling" family and the encoder-decoder family of lessons 00 and 05.
#
# So that the skip connection at OS 4 can matter, we use lesson 05's `thin` data (bright strokes 1.5-3 px wide, and one large disc) at 64 pixels, the `tiny` backbone at OS 16 (a 4 x 4 map), ASPP with atrous rates (1, 2, 3) — all smaller than the map's side, so no branch sees only padding — and 64 channels; the decoder's 1x1 convolution keeps `layer1`'s 16 channels (no reduction here: 16 of the 80 channels after the concatenation, a share close to the paper's 48 of 304; the paper's Table 1 also tries 16), and its two 3x3 convolutions have 64 channels. The two models differ only by the decoder (`src.repvgg_probe.deeplab_pair`). We measure both the boundary F-score (lesson 00) and mIoU, one record each (`experiments/deeplabv3plus.py`, 5 seeds, the same trainings).

# %%
from src.train import evaluate

v3_live, v3_models, thin_val = claims.run("deeplabv3plus_boundary", seed=0, scale=LIVE_SCALE, return_models=True)
v3_miou = {g: float(evaluate(m, thin_val)["miou"]) for g, m in v3_models.items()}
bf_record, bf_table = claim_table("deeplabv3plus_boundary", v3_live, src.tr("điểm F trên biên", "boundary F"))
miou_record, miou_table = claim_table("deeplabv3plus_miou", v3_miou, "val mIoU")
params = {g: sum(p.numel() for p in m.parameters()) for g, m in v3_models.items()}
print(bf_record.verdict())
print(miou_record.verdict())
print(src.tr("số tham số:", "parameters:"), params)
pd.concat({src.tr("điểm F trên biên", "boundary F"): bf_table, "mIoU": miou_table})

# %%
thin_images, thin_masks = next(iter(thin_val))
k = 3
with torch.no_grad():
    predictions = {g: m.cpu().eval()(thin_images[k : k + 1]).argmax(1)[0] for g, m in v3_models.items()}
fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
shown = {
    src.tr("ảnh", "image"): thin_images[k].permute(1, 2, 0).mean(-1),
    src.tr("nhãn đúng", "ground truth"): thin_masks[k],
    **predictions,
}
for ax, (name, picture) in zip(axes, shown.items()):
    if name == src.tr("ảnh", "image"):
        ax.imshow(picture, cmap="gray")
    else:
        ax.imshow(picture, cmap="viridis", vmin=0, vmax=2)  # the same colour per class in every panel
    ax.set_title(name)
    ax.axis("off")
fig.suptitle(
    src.tr("một ảnh kiểm định của `thin` (lần chạy nhỏ ở trên)", "one `thin` validation image (the small run above)")
)
plt.show()

# %% [markdown] lang="vi"
# Hai dòng kết luận in ở trên là của hai bản ghi (5 hạt giống, giao thức đầy đủ); bảng đặt lần chạy nhỏ này cạnh chúng. Hình là của lần chạy nhỏ (ít ảnh và ít vòng huấn luyện hơn): hãy so đường viền của đĩa tròn, vẽ từ một bản đồ 4 x 4 (DeepLabV3) hay có thêm đặc trưng 16 x 16 của `layer1` (DeepLabV3+), và xem mỗi mô hình vẽ được bao nhiêu phần của các nét mảnh — phần khó nhất; lần chạy nhỏ rất ngắn, nên cả hai mô hình đều có thể bỏ sót các nét này; các con số 5 hạt giống ở bảng mới là kết luận. Cái giá là số tham số in ở trên (bộ giải mã có hai tích chập 3x3) và các phép tính ở độ phân giải 1/4.

# %% [markdown] lang="en"
# The two verdict lines printed above are the two records' (5 seeds, full protocol); the table puts this small run next to them. The figure is from the small run (fewer images and epochs): compare the disc's outline, drawn from a 4 x 4 map (DeepLabV3) or with `layer1`'s 16 x 16 features as well (DeepLabV3+), and see how much of the thin strokes — the hardest part — each model draws; the small run is short and may miss the strokes in both models; the 5-seed numbers in the table are the conclusion. The price is the parameter count printed above (the decoder has two 3x3 convolutions) and the computation at 1/4 resolution.

# %% [markdown] lang="vi"
# ## Ghi nhớ
#
# - Tái tham số hoá cấu trúc: khi BN ở chế độ `eval`, mọi thứ trước ReLU của một khối RepVGG là tuyến tính, nên ba nhánh gộp **chính xác** thành một tích chập 3x3 có bias.
# - Gộp BN: $W' = W\,\gamma/\sqrt{\sigma^2 + \epsilon}$ theo từng kênh ra, $b' = \beta - \mu\,\gamma/\sqrt{\sigma^2 + \epsilon}$ ($\epsilon$ trong căn, căn của phương sai tích luỹ).
# - Nhân 1x1 = nhân 3x3 chỉ khác 0 ở tâm; nhánh đồng nhất = nhân 3x3 có số 1 ở tâm của kênh $o \to o$ (với nhóm: $o \to o \bmod (C/g)$).
# - Trường tiếp nhận lý thuyết không đổi khi thêm nhánh; các nhánh thay đổi cách gradient lan ra (trường hiệu dụng, ở đây đo lúc khởi tạo), còn lúc suy luận mạng chỉ là một chồng 3x3.
# - Tốc độ và bộ nhớ khi triển khai: đọc từ bản ghi ở mục 5 (tỉ số các trung vị, đo xen kẽ).
# - Trong biến thể SE của các tác giả (RepVGG-D2se, không có trong bài báo), SE nằm trong khối, trên tổng các nhánh, trước ReLU; nó không gộp được; trên `cue`, bộ dữ liệu mà lớp phụ thuộc vào một dấu hiệu toàn cục, nó giúp rõ rệt (kết luận và độ phân tán ở mục 6).
# - DeepLabV3+ = bộ mã hoá của DeepLabV3 + bộ giải mã nhẹ trên đặc trưng OS 4: kết quả về biên và mIoU ở mục 7.

# %% [markdown] lang="en"
# ## Key takeaways
#
# - Structural re-parameterisation: with BN in eval mode everything before a RepVGG block's ReLU is linear, so the three branches merge **exactly** into one 3x3 convolution with a bias.
# - BN folding: $W' = W\,\gamma/\sqrt{\sigma^2 + \epsilon}$ per output channel, $b' = \beta - \mu\,\gamma/\sqrt{\sigma^2 + \epsilon}$ ($\epsilon$ inside the root, the root of the running variance).
# - A 1x1 kernel = the 3x3 kernel that is non-zero at the centre only; the identity = a 3x3 kernel with a 1 at the centre of channel $o \to o$ (grouped: $o \to o \bmod (C/g)$).
# - The theoretical receptive field does not change with the branches; the branches change how the gradient spreads (the effective field, measured here at initialisation), while at inference the network is just a 3x3 stack.
# - Deploy-time speed and memory: read from the record in section 5 (ratio of medians, alternating measurements).
# - In the authors' SE variant (RepVGG-D2se, not in the paper), SE sits inside the block, on the sum of the branches, before the ReLU; it cannot be merged; on `cue`, where the class depends on a global cue, it clearly helped (verdict and spread in section 6).
# - DeepLabV3+ = DeepLabV3's encoder + a light decoder on the OS-4 features: the boundary and mIoU results are in section 7.

# %% [markdown] lang="vi"
# ## Tài liệu tham khảo
#
# - X. Ding, X. Zhang, N. Ma, J. Han, G. Ding, J. Sun. *RepVGG: Making VGG-style ConvNets Great Again*. CVPR 2021. arXiv 2101.03697.
# - L.-C. Chen, Y. Zhu, G. Papandreou, F. Schroff, H. Adam. *Encoder-Decoder with Atrous Separable Convolution for Semantic Image Segmentation* (DeepLabV3+). ECCV 2018. arXiv 1802.02611.
# - J. Hu, L. Shen, G. Sun. *Squeeze-and-Excitation Networks*. CVPR 2018; bản mở rộng (thêm S. Albanie, E. Wu): IEEE TPAMI 2020. arXiv 1709.01507.
# - L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. *Rethinking Atrous Convolution for Semantic Image Segmentation* (DeepLabv3). arXiv 1706.05587.
# - K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition*. CVPR 2016. arXiv 1512.03385.
# - A. Veit, M. Wilber, S. Belongie. *Residual Networks Behave Like Ensembles of Relatively Shallow Networks*. NIPS 2016. arXiv 1605.06431.
# - W. Luo, Y. Li, R. Urtasun, R. Zemel. *Understanding the Effective Receptive Field in Deep Convolutional Neural Networks*. NIPS 2016. arXiv 1701.04128.

# %% [markdown] lang="en"
# ## References
#
# - X. Ding, X. Zhang, N. Ma, J. Han, G. Ding, J. Sun. *RepVGG: Making VGG-style ConvNets Great Again*. CVPR 2021. arXiv 2101.03697.
# - L.-C. Chen, Y. Zhu, G. Papandreou, F. Schroff, H. Adam. *Encoder-Decoder with Atrous Separable Convolution for Semantic Image Segmentation* (DeepLabV3+). ECCV 2018. arXiv 1802.02611.
# - J. Hu, L. Shen, G. Sun. *Squeeze-and-Excitation Networks*. CVPR 2018; extended version (with S. Albanie, E. Wu): IEEE TPAMI 2020. arXiv 1709.01507.
# - L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. *Rethinking Atrous Convolution for Semantic Image Segmentation* (DeepLabv3). arXiv 1706.05587.
# - K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition*. CVPR 2016. arXiv 1512.03385.
# - A. Veit, M. Wilber, S. Belongie. *Residual Networks Behave Like Ensembles of Relatively Shallow Networks*. NIPS 2016. arXiv 1605.06431.
# - W. Luo, Y. Li, R. Urtasun, R. Zemel. *Understanding the Effective Receptive Field in Deep Convolutional Neural Networks*. NIPS 2016. arXiv 1701.04128.
