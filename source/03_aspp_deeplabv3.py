# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   lesson:
#     summary:
#       vi: "ASPP và DeepLabV3 (ResNet, DenseNet-121), gộp kim tự tháp PSPNet, các hàm mất mát, thí nghiệm loại bỏ"
#       en: "ASPP and DeepLabV3 (ResNet, DenseNet-121), PSPNet pyramid pooling, losses, an ablation"
# ---

# %% [markdown] lang="vi"
# # Bài 03 — ASPP và DeepLabV3: gộp kim tự tháp, hàm mất mát và một thí nghiệm loại bỏ
#
# **Mục tiêu của bài**
#
# 1. Theo dấu DeepLab từ v1 đến v3: tích chập giãn (*dilated / atrous convolution*), ASPP, đặc trưng mức ảnh (*image-level feature*) cùng batch norm ở v3, và vì sao v3 bỏ CRF.
# 2. Dựng ASPP từng nhánh một, in kích thước (*shape*) ở mỗi bước, rồi tự viết lượt truyền xuôi và nhánh đặc trưng mức ảnh (hai bài tập có kiểm tra tự động).
# 3. Kiểm chứng rằng `src.aspp` nạp được trọng số của torchvision (`strict=True`) và cho cùng kết quả, và hiểu vì sao nhánh gộp (*pooling*) của torchvision báo lỗi khi batch chỉ có một ảnh.
# 4. Dựng DeepLabV3 trên mạng xương sống (*backbone*) ResNet và DenseNet-121 ở output stride 16 và 8; đếm tham số; xem đa lưới (*multi-grid*).
# 5. So sánh các hàm mất mát (*loss function*): entropy chéo (*cross-entropy*), entropy chéo nhị phân (*binary cross-entropy*) với sigmoid, Dice và focal; tự viết hàm mất mát Dice (bài tập thứ ba).
# 6. Làm một thí nghiệm loại bỏ (*ablation*) trên bộ dữ liệu `cue`, trong đó lớp của một điểm ảnh chỉ đọc được từ ngữ cảnh (*context*) toàn cục: không có mô-đun ngữ cảnh / ASPP đầy đủ (có nhánh mức ảnh) / gộp kim tự tháp (*pyramid pooling*) của PSPNet.

# %% [markdown] lang="en"
# # Lesson 03 — ASPP and DeepLabV3: pyramid pooling, losses and an ablation
#
# **Goals**
#
# 1. Follow DeepLab from v1 to v3: dilated (atrous) convolution, ASPP, the image-level feature and batch norm in v3, and why v3 drops the CRF.
# 2. Build ASPP branch by branch, printing the shape at every step, then write its forward pass and the image-level branch yourself (two exercises with automatic checks).
# 3. Verify that `src.aspp` loads torchvision's weights (`strict=True`) and gives the same output, and understand why torchvision's pooling branch raises when a batch holds a single image.
# 4. Build DeepLabV3 on ResNet and DenseNet-121 backbones at output stride 16 and 8; count parameters; look at multi-grid.
# 5. Compare loss functions: cross-entropy, binary cross-entropy with a sigmoid, Dice and focal; write the Dice loss yourself (the third exercise).
# 6. Run an ablation on the `cue` data, where a pixel's class can only be read from global context: no context module / full ASPP (with the image-level branch) / the pyramid pooling of PSPNet.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from src import checks, losses, tr, viz
from src.ablations import context_ablation
from src.aspp import ASPP, ASPPPooling, DeepLabHead
from src.backbones import build_backbone
from src.data import TextureMosaics, make_loaders
from src.deeplab import DeepLabV3
from src.dilated import gridding_coverage
from src.models import count_parameters
from src.pspnet import PSPNet, PyramidPooling
from src.train import fit, predict

src.seed_everything(0)
torch.set_num_threads(1)  # the course's CPUs are shared: one thread avoids thread contention

# %% [markdown] lang="vi"
# ## 1. Từ DeepLab v1 đến v3
#
# Mạng phân loại như ResNet giảm độ phân giải 32 lần: ảnh $512\times512$ chỉ còn bản đồ đặc trưng (*feature map*) $16\times16$. DeepLab giải quyết việc này theo ba bước.
#
# * **DeepLab v1** (arXiv 1412.7062) bỏ bước trượt (*stride*) của vài lớp cuối và bù lại bằng tích chập giãn với hệ số giãn (*dilation rate*) $r$: $\;y[i] = \sum_k w[k]\,x[i + r\,k]$. Bản đồ đặc trưng giữ độ phân giải cao hơn (output stride 8) mà trường tiếp nhận (*receptive field*) vẫn rộng. Biên vật thể còn nhoè nên v1 thêm một CRF kết nối đầy đủ làm bước hậu xử lý (bài 04).
# * **DeepLab v2** (arXiv 1606.00915) thêm **ASPP** (*Atrous Spatial Pyramid Pooling*): nhiều nhánh tích chập giãn song song với các hệ số giãn khác nhau trên cùng một bản đồ đặc trưng, để nhìn vật ở nhiều tỉ lệ, giống gộp kim tự tháp không gian (*spatial pyramid pooling*) nhưng không làm mất độ phân giải.
# * **DeepLab v3** (arXiv 1706.05587) sửa ASPP: thêm batch norm vào mỗi nhánh, một nhánh $1\times1$, và một nhánh **đặc trưng mức ảnh**: gộp trung bình toàn cục (*global average pooling*), tích chập $1\times1$, BN, ReLU, rồi phóng to (*upsampling*) bằng nội suy song tuyến (*bilinear interpolation*) về kích thước cũ. Lý do nằm ở Hình 4 của bài báo (bài 02): khi $r$ gần bằng kích thước bản đồ đặc trưng, phần lớn trong 9 trọng số của nhân $3\times3$ rơi vào phần đệm (*padding*), nhánh giãn thoái hoá thành một phép $1\times1$; ngữ cảnh toàn ảnh phải được đưa vào bằng một đường khác. Các nhánh được nối theo kênh (*channel*) rồi chiếu về 256 kênh:
#
# $$\mathrm{ASPP}(x) = \mathrm{proj}\Big(\big[\,\mathrm{conv}_{1\times1}(x),\ \mathrm{conv}^{r_1}_{3\times3}(x),\ \dots,\ \mathrm{conv}^{r_n}_{3\times3}(x),\ \mathrm{up}\big(\mathrm{conv}_{1\times1}(\mathrm{GAP}(x))\big)\big]\Big).$$
#
# Với ResNet đủ tốt và đặc trưng mức ảnh, v3 vượt v2 có CRF mà không cần CRF nữa. Hệ số giãn đi theo output stride: $(6, 12, 18)$ ở OS 16 và gấp đôi, $(12, 24, 36)$, ở OS 8, vì khi đó cùng một vùng ảnh trải trên số điểm của bản đồ đặc trưng nhiều gấp đôi (theo mỗi chiều).

# %% [markdown] lang="en"
# ## 1. From DeepLab v1 to v3
#
# A classification network such as ResNet reduces the resolution 32 times: a $512\times512$ image becomes a $16\times16$ feature map. DeepLab deals with this in three steps.
#
# * **DeepLab v1** (arXiv 1412.7062) removes the stride of the last layers and compensates with dilated convolution at dilation rate $r$: $\;y[i] = \sum_k w[k]\,x[i + r\,k]$. The feature map keeps a higher resolution (output stride 8) while the receptive field stays wide. Object boundaries are still blurry, so v1 adds a fully connected CRF as post-processing (lesson 04).
# * **DeepLab v2** (arXiv 1606.00915) adds **ASPP** (Atrous Spatial Pyramid Pooling): several parallel dilated convolutions with different rates on the same feature map, to see objects at several scales, like spatial pyramid pooling but without losing resolution.
# * **DeepLab v3** (arXiv 1706.05587) revises ASPP: batch norm in every branch, a $1\times1$ branch, and an **image-level feature** branch: global average pooling, $1\times1$ conv, BN, ReLU, then upsampling by bilinear interpolation back to the original size. The reason is Fig. 4 of the paper (lesson 02): when $r$ approaches the feature-map size, most of the 9 weights of a $3\times3$ kernel land in the padding and the dilated branch degenerates into a $1\times1$; whole-image context has to come in by another path. The branches are concatenated along the channels and projected to 256 channels:
#
# $$\mathrm{ASPP}(x) = \mathrm{proj}\Big(\big[\,\mathrm{conv}_{1\times1}(x),\ \mathrm{conv}^{r_1}_{3\times3}(x),\ \dots,\ \mathrm{conv}^{r_n}_{3\times3}(x),\ \mathrm{up}\big(\mathrm{conv}_{1\times1}(\mathrm{GAP}(x))\big)\big]\Big).$$
#
# With a good ResNet and the image-level feature, v3 beats v2-with-CRF without any CRF. The rates follow the output stride: $(6, 12, 18)$ at OS 16 and twice that, $(12, 24, 36)$, at OS 8, because the same image region then spans twice as many feature-map positions.

# %% [markdown] lang="vi"
# ## 2. ASPP từng nhánh một
#
# Ta dựng một ASPP nhỏ: 64 kênh vào, hệ số giãn $(2, 4, 6)$, 32 kênh ra, trên một bản đồ đặc trưng $8\times8$ (kích thước mà mạng xương sống nhỏ của khoá học cho ra với ảnh 64 điểm ảnh ở OS 8). `aspp.convs` chứa các nhánh theo thứ tự: $1\times1$, ba nhánh giãn, nhánh mức ảnh; `aspp.project` là phép chiếu.

# %% [markdown] lang="en"
# ## 2. ASPP branch by branch
#
# We build a small ASPP: 64 input channels, rates $(2, 4, 6)$, 32 output channels, on an $8\times8$ feature map (the size the course's tiny backbone gives for a 64-pixel image at OS 8). `aspp.convs` holds the branches in order: $1\times1$, three dilated branches, the image-level branch; `aspp.project` is the projection.

# %%
# NBVAL_CHECK_OUTPUT
aspp = ASPP(64, atrous_rates=(2, 4, 6), out_channels=32).eval()
x = torch.randn(2, 64, 8, 8)
with torch.no_grad():
    outs = []
    for i, branch in enumerate(aspp.convs):
        outs.append(branch(x))
        kind = (
            type(branch).__name__
            if not isinstance(branch[0], nn.Conv2d)
            else f"conv {branch[0].kernel_size}, dilation {branch[0].dilation}"
        )
        print(f"branch {i}: {kind:32s} -> {tuple(outs[-1].shape)}")
    cat = torch.cat(outs, dim=1)
    print(f"concatenated                        -> {tuple(cat.shape)}")
    print(f"project (1x1 conv, BN, ReLU, drop)  -> {tuple(aspp.project(cat).shape)}")
print("parameters:", count_parameters(aspp))

# %% [markdown] lang="vi"
# ### Bài tập 03-1 — lượt truyền xuôi của ASPP
#
# Viết `aspp_forward(aspp, x)`: cho `x` qua **mọi** nhánh trong `aspp.convs`, nối các kết quả theo chiều kênh (`dim=1`), rồi đưa qua `aspp.project`. Kết quả phải trùng với `aspp(x)`.

# %% [markdown] lang="en"
# ### Exercise 03-1 — the ASPP forward pass
#
# Write `aspp_forward(aspp, x)`: pass `x` through **every** branch in `aspp.convs`, concatenate the results along the channels (`dim=1`), then apply `aspp.project`. The result must equal `aspp(x)`.


# %%
def aspp_forward(aspp: ASPP, x: torch.Tensor) -> torch.Tensor:
    ### BEGIN SOLUTION
    return aspp.project(torch.cat([branch(x) for branch in aspp.convs], dim=1))
    ### END SOLUTION


# %%
result = checks.check_aspp_forward(aspp_forward)

# %% [markdown] lang="vi"
# ## 3. Nhánh đặc trưng mức ảnh và batch chỉ có một ảnh
#
# Nhánh mức ảnh nén cả bản đồ đặc trưng thành **một** vectơ cho mỗi ảnh: $g = \mathrm{ReLU}(\mathrm{BN}(W\,\tfrac{1}{HW}\sum_{i,j} x_{:,i,j}))$, rồi trải $g$ ra mọi vị trí. Mỗi điểm ảnh vì thế nhận được một bản tóm tắt của toàn ảnh, bất kể trường tiếp nhận của các nhánh kia.
#
# ### Bài tập 03-2 — nhánh đặc trưng mức ảnh
#
# Viết `image_pooling(x, conv, bn)`: gộp trung bình toàn cục (giữ chiều, được $N\times C\times1\times1$), `conv` ($1\times1$), `bn`, ReLU, rồi `F.interpolate(..., size=x.shape[-2:], mode="bilinear", align_corners=False)`.

# %% [markdown] lang="en"
# ## 3. The image-level branch, and a batch of one image
#
# The image-level branch squeezes the whole feature map into **one** vector per image: $g = \mathrm{ReLU}(\mathrm{BN}(W\,\tfrac{1}{HW}\sum_{i,j} x_{:,i,j}))$, then spreads $g$ over every position. Every pixel therefore receives a summary of the whole image, whatever the receptive field of the other branches.
#
# ### Exercise 03-2 — the image-level branch
#
# Write `image_pooling(x, conv, bn)`: global average pooling (keep the dimensions, giving $N\times C\times1\times1$), `conv` ($1\times1$), `bn`, ReLU, then `F.interpolate(..., size=x.shape[-2:], mode="bilinear", align_corners=False)`.


# %%
def image_pooling(x: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> torch.Tensor:
    ### BEGIN SOLUTION
    g = F.relu(bn(conv(x.mean(dim=(2, 3), keepdim=True))))
    return F.interpolate(g, size=x.shape[-2:], mode="bilinear", align_corners=False)
    ### END SOLUTION


# %%
result = checks.check_image_pooling(image_pooling)

# %% [markdown] lang="vi"
# Khi huấn luyện, batch norm chuẩn hoá bằng trung bình và phương sai của batch **trên mỗi kênh**. Sau gộp toàn cục, một batch 1 ảnh chỉ còn đúng **một giá trị** mỗi kênh: phương sai không xác định, và PyTorch báo lỗi. Với ảnh lớn (ví dụ 1024 điểm ảnh, chỉ vừa một ảnh trên GPU) đây là chuyện thường gặp. Ô dưới chạy nhánh của torchvision và nhánh của `src.aspp` ở chế độ huấn luyện với batch 1.
#
# Cách `src.aspp` xử lý: BN của nhánh mức ảnh là `PoolingBatchNorm`; khi nó chỉ thấy một giá trị mỗi kênh, nó chuẩn hoá bằng **thống kê tích luỹ** (*running statistics*), như ở chế độ đánh giá, và không cập nhật các thống kê đó; trọng số $\gamma, \beta$ và tích chập vẫn nhận gradient. Với batch từ 2 ảnh trở lên, nó là batch norm bình thường. (Các cách khác: đóng băng BN của nhánh này, dùng GroupNorm, hoặc bỏ BN ở nhánh này như một số bản cài đặt.)

# %% [markdown] lang="en"
# In training, batch norm normalises with the batch mean and variance **per channel**. After global pooling, a batch of one image leaves exactly **one value** per channel: the variance is undefined, and PyTorch raises. With large images (say 1024 pixels, only one fits on a GPU) this happens in practice. The cell below runs torchvision's branch and `src.aspp`'s branch in training mode with a batch of one.
#
# How `src.aspp` handles it: the image-level branch's BN is a `PoolingBatchNorm`; when it sees a single value per channel, it normalises with its **running statistics**, as in evaluation mode, and leaves those statistics unchanged; its $\gamma, \beta$ and the convolution still receive gradients. With a batch of two images or more it is ordinary batch norm. (Other ways out: freeze this branch's BN, use GroupNorm, or drop BN in this branch as some implementations do.)

# %%
# NBVAL_CHECK_OUTPUT
from torchvision.models.segmentation.deeplabv3 import ASPPPooling as TorchvisionPooling

one_image = torch.randn(1, 64, 8, 8)
try:
    TorchvisionPooling(64, 32).train()(one_image)
except ValueError as error:
    print("torchvision:", str(error).split(",")[0])
print("src.aspp   :", tuple(ASPPPooling(64, 32).train()(one_image).shape))

# %% [markdown] lang="vi"
# ## 4. Tương thích với torchvision
#
# `src.aspp.ASPP` và `DeepLabHead` có đúng các mô-đun con, cùng tên, như trong `torchvision/models/segmentation/deeplabv3.py`. Vì vậy `state_dict` của torchvision (ví dụ trọng số huấn luyện sẵn trên COCO, nếu bạn có) nạp thẳng vào với `strict=True`. Ô dưới nạp trọng số của một `DeepLabHead` torchvision (khởi tạo ngẫu nhiên, không tải gì về) vào đầu của ta và so đầu ra.

# %% [markdown] lang="en"
# ## 4. Compatibility with torchvision
#
# `src.aspp.ASPP` and `DeepLabHead` have exactly the submodules, with the same names, as `torchvision/models/segmentation/deeplabv3.py`. So a torchvision `state_dict` (e.g. COCO-pretrained weights, if you have them) loads directly with `strict=True`. The cell below loads the weights of a torchvision `DeepLabHead` (randomly initialised, nothing is downloaded) into ours and compares the outputs.

# %%
# NBVAL_CHECK_OUTPUT
from torchvision.models.segmentation.deeplabv3 import DeepLabHead as TorchvisionHead

theirs = TorchvisionHead(64, 5, atrous_rates=(2, 4, 6)).eval()
ours = DeepLabHead(64, 5, atrous_rates=(2, 4, 6)).eval()
print(ours.load_state_dict(theirs.state_dict(), strict=True))
features = torch.randn(2, 64, 8, 8)
with torch.no_grad():
    print("same output:", torch.allclose(ours(features), theirs(features), atol=1e-6))
print("same number of parameters:", count_parameters(ours) == count_parameters(theirs))

# %% [markdown] lang="vi"
# ## 5. DeepLabV3 trên ResNet và DenseNet-121
#
# `DeepLabV3(num_classes, backbone, output_stride=...)` = mạng xương sống ở OS 16 hoặc 8 + `DeepLabHead` + phóng to song tuyến về kích thước ảnh. `src.backbones.build_backbone` đưa mọi mạng xương sống về cùng một dạng: bốn tầng `layer1`…`layer4`.
#
# * ResNet: để đạt OS 16 / 8, bước trượt của `layer4` (và `layer3`) bị bỏ và thay bằng hệ số giãn 2 (và 4). torchvision chỉ làm được việc này với khối Bottleneck (ResNet-50/101); với `BasicBlock` của ResNet-18/34 nó báo lỗi, nên `src.backbones` tự đặt `stride`, `dilation`, `padding` cho từng tích chập.
# * DenseNet-121 (arXiv 1608.06993): giữa các khối dày đặc (*dense block*) có tầng chuyển tiếp với phép gộp trung bình $2\times2$. Để đạt OS 16 ta bỏ phép gộp của tầng chuyển tiếp cuối và giãn các tích chập $3\times3$ của khối cuối với hệ số 2; OS 8 bỏ thêm phép gộp trước khối thứ ba (giãn 2, khối cuối giãn 4).
#
# Ô dưới dựng các mô hình trên thiết bị `meta` (chỉ có kích thước, không cấp phát bộ nhớ, chạy tức thì), với ảnh vào $513\times513$ (ô cắt huấn luyện của DeepLabv3), 21 lớp như PASCAL VOC. Ở kích thước này `layer4` rộng $33\times33$ (OS 16) hoặc $65\times65$ (OS 8) với ResNet, $32\times32$ hoặc $64\times64$ với DenseNet-121 (phép gộp trung bình $2\times2$ của các tầng chuyển tiếp làm tròn xuống cạnh lẻ $129$ thành $64$), lớn hơn mọi hệ số giãn của ASPP; trên ảnh nhỏ, chẳng hạn $128\times128$ ($8\times8$ ở OS 16), các hệ số 12 và 18 chỉ còn điểm lấy mẫu ở tâm nằm trong bản đồ (bài 02) và `src.aspp` cảnh báo `DegenerateASPPWarning`.

# %% [markdown] lang="en"
# ## 5. DeepLabV3 on ResNet and DenseNet-121
#
# `DeepLabV3(num_classes, backbone, output_stride=...)` = a backbone at OS 16 or 8 + `DeepLabHead` + bilinear upsampling to the image size. `src.backbones.build_backbone` gives every backbone the same form: four stages `layer1`…`layer4`.
#
# * ResNet: to reach OS 16 / 8 the stride of `layer4` (and `layer3`) is removed and replaced by dilation 2 (and 4). torchvision does this only for Bottleneck blocks (ResNet-50/101); with the `BasicBlock` of ResNet-18/34 it raises, so `src.backbones` sets each convolution's `stride`, `dilation` and `padding` itself.
# * DenseNet-121 (arXiv 1608.06993): between dense blocks sit transition layers with a $2\times2$ average pooling. To reach OS 16 we remove the pooling of the last transition and dilate the $3\times3$ convolutions of the last block by 2; OS 8 also removes the pooling before the third block (dilation 2, last block 4).
#
# The cell below builds the models on the `meta` device (shapes only, no memory, instant), for a $513\times513$ input (DeepLabv3's training crop) and 21 classes as in PASCAL VOC. At this size `layer4` is $33\times33$ (OS 16) or $65\times65$ (OS 8) with ResNet, $32\times32$ or $64\times64$ with DenseNet-121 (the $2\times2$ average pooling of its transition layers rounds the odd side $129$ down to $64$), larger than every ASPP rate; on a small image, say $128\times128$ ($8\times8$ at OS 16), rates 12 and 18 would leave only their centre tap inside the map (lesson 02) and `src.aspp` warns with `DegenerateASPPWarning`.

# %%
# NBVAL_CHECK_OUTPUT
rows = []
for name in ("resnet18", "resnet50", "resnet101", "densenet121"):
    for output_stride in (16, 8):
        with torch.device("meta"):
            model = DeepLabV3(21, name, output_stride=output_stride)
            feature = model.backbone(torch.empty(1, 3, 513, 513))["layer4"]
            logits = model(torch.empty(1, 3, 513, 513))
        backbone_params = count_parameters(model.backbone)
        rows.append(
            {
                "backbone": name,
                "OS": output_stride,
                "rates": model.atrous_rates,
                "layer4": f"{feature.shape[1]}x{feature.shape[2]}x{feature.shape[3]}",
                "logits": "x".join(map(str, logits.shape[1:])),
                "backbone params (M)": round(backbone_params / 1e6, 2),
                "head params (M)": round((count_parameters(model) - backbone_params) / 1e6, 2),
            }
        )
pd.DataFrame(rows)

# %% [markdown] lang="vi"
# Bảng trên cho thấy: độ phân giải của `layer4` gấp đôi khi OS từ 16 xuống 8 mà số tham số không đổi (tích chập giãn không thêm trọng số), còn hệ số giãn của ASPP gấp đôi theo. Đầu DeepLab nhận 2048 kênh từ ResNet-50/101 nhưng 512 từ ResNet-18 và 1024 từ DenseNet-121, nên số tham số của đầu cũng khác nhau.
#
# **Đa lưới** (DeepLabv3, mục 3.2): các khối liên tiếp trong `layer4` nhận hệ số giãn (tầng) $\times$ $(r_1, r_2, r_3)$, ví dụ $2\times(1, 2, 4) = (2, 4, 8)$ ở OS 16, thay vì cùng một hệ số. DeepLabv3 mượn ý tưởng từ các phương pháp đa lưới, vốn dùng một hệ các lưới có kích thước khác nhau (mục 3.2): mỗi khối của `layer4` (và của các khối thêm vào khi mạng sâu hơn) nhìn ở một hệ số giãn khác. Bài báo đánh giá nó bằng thực nghiệm (mục 4.1, bảng 3, trên tập kiểm định PASCAL VOC): đa lưới nhìn chung tốt hơn $(1, 1, 1)$, còn chỉ nhân đôi hệ số đơn vị, $(2, 2, 2)$, thì không giúp. Bài báo **không** nói đa lưới tránh được hiện tượng lưới (*gridding*), và nó cũng không tránh được: ô dưới tính bằng `src.dilated.gridding_coverage` (phép đo của bài 02) tỉ lệ ô vuông RF mà chồng ba tích chập $3\times3$ của `layer4` thật sự chạm tới, khi đứng riêng: có đa lưới (hệ số $(2, 4, 8)$) cũng như không có (hệ số $(2, 2, 2)$), phần lớn ô vuông là lỗ. Các lớp trước `layer4` (hệ số 1) lấp các lỗ đó trong mạng đầy đủ; muốn một chồng tự phủ kín phải chọn hệ số như tích chập giãn hỗn hợp (*hybrid dilated convolution*, Wang và cộng sự, arXiv 1702.08502), ví dụ $(1, 2, 3)$.

# %% [markdown] lang="en"
# The table above shows: the resolution of `layer4` doubles when OS goes from 16 to 8 while the parameter count stays the same (dilated convolution adds no weights), and the ASPP rates double with it. The DeepLab head receives 2048 channels from ResNet-50/101 but 512 from ResNet-18 and 1024 from DenseNet-121, so the head's parameter count differs too.
#
# **Multi-grid** (DeepLabv3, Sec. 3.2): the successive blocks of `layer4` get the stage's rate $\times$ $(r_1, r_2, r_3)$, e.g. $2\times(1, 2, 4) = (2, 4, 8)$ at OS 16, rather than one rate. DeepLabv3 takes the idea from multi-grid methods, which use a hierarchy of grids of different sizes (Sec. 3.2): each block of `layer4` (and of the blocks added when the network goes deeper) looks at a different rate. The paper evaluates it empirically (Sec. 4.1, Table 3, on Pascal VOC val): multi-grid is generally better than $(1, 1, 1)$, while simply doubling the unit rates, $(2, 2, 2)$, does not help. The paper does **not** say that multi-grid avoids gridding, and it does not: the cell below computes with `src.dilated.gridding_coverage` (lesson 02's measurement) the share of the RF square that the three $3\times3$ convolutions of `layer4` actually reach, taken on their own: with multi-grid (rates $(2, 4, 8)$) as without it (rates $(2, 2, 2)$), most of the square is holes. The layers before `layer4` (rate 1) fill those holes in the full network; for a stack to cover the square by itself, the rates must be chosen as in hybrid dilated convolution (Wang et al., arXiv 1702.08502), e.g. $(1, 2, 3)$.

# %%
# NBVAL_CHECK_OUTPUT
for grid in (None, (1, 2, 4)):
    with torch.device("meta"):
        backbone = build_backbone("resnet50", output_stride=16, multi_grid=grid)
    rates = [block.conv2.dilation[0] for block in backbone.layer4]
    print(f"multi_grid={grid}: layer4 dilations {rates}, coverage of their RF square {gridding_coverage(rates):.0%}")
print(f"hybrid (1, 2, 3): coverage {gridding_coverage((1, 2, 3)):.0%}")

# %% [markdown] lang="vi"
# ## 6. Gộp kim tự tháp của PSPNet
#
# PSPNet (Zhao và cộng sự, arXiv 1612.01105) lấy ngữ cảnh theo cách khác: gộp trung bình bản đồ đặc trưng thành các lưới $1\times1$, $2\times2$, $3\times3$, $6\times6$, giảm mỗi mức còn $C/4$ kênh bằng một tích chập $1\times1$, phóng to lại và nối với đầu vào. Mức $1\times1$ chính là đặc trưng mức ảnh của DeepLabv3; các mức còn lại cho ngữ cảnh của từng phần ảnh.

# %% [markdown] lang="en"
# ## 6. The pyramid pooling of PSPNet
#
# PSPNet (Zhao et al., arXiv 1612.01105) gathers context differently: it average-pools the feature map into $1\times1$, $2\times2$, $3\times3$, $6\times6$ grids, reduces each level to $C/4$ channels with a $1\times1$ conv, upsamples them back and concatenates them with the input. The $1\times1$ level is exactly DeepLabv3's image-level feature; the other levels give the context of each part of the image.

# %%
# NBVAL_CHECK_OUTPUT
ppm = PyramidPooling(64, bins=(1, 2, 3, 6)).eval()
with torch.no_grad():
    print("input", tuple(x.shape), "-> pyramid pooling", tuple(ppm(x).shape))
    for bins, stage in zip(ppm.bins, ppm.stages):
        print(f"  bin {bins}: pooled {tuple(stage[0](x).shape)} -> reduced {tuple(stage(x).shape)}")

# %% [markdown] lang="vi"
# ## 7. Hàm mất mát
#
# Với $p_c$ là xác suất mô hình gán cho lớp $c$ tại một điểm ảnh có nhãn $y$ (lớp thật):
#
# * **Entropy chéo** (softmax, nhiều lớp): $\ \mathcal{L}_{CE} = -\log p_y$, lấy trung bình trên các điểm ảnh (bỏ qua nhãn 255); có thể nhân trọng số lớp $w_y$.
# * **Entropy chéo nhị phân** (một logit $z$, sigmoid $p = \sigma(z)$): $\ \mathcal{L}_{BCE} = -[\,y\log p + (1-y)\log(1-p)\,]$. Cho bài toán hai lớp, đầu ra một kênh với sigmoid tương đương softmax hai kênh với $z = z_1 - z_0$ (ô dưới kiểm chứng), nhưng gọn hơn: bộ ghi chú DeepLab, xuất phát điểm của khoá học này, cũng dùng cách đó cho phân vùng nhị phân (`DeepLabV3(num_classes=1, ...)`: một logit cho mỗi điểm ảnh).
# * **Dice** (Milletari và cộng sự, V-Net, arXiv 1606.04797): $\ \mathcal{L}_{Dice} = 1 - \frac{1}{C}\sum_c \frac{2\sum_i p_{ic} g_{ic} + s}{\sum_i p_{ic} + \sum_i g_{ic} + s}$, với $g$ là nhãn one-hot và $s$ một hằng số làm trơn (công thức 1 của V-Net là phiên bản một lớp với bình phương ở mẫu số, $\sum_i p_i^2 + \sum_i g_i^2$; dạng ở trên, không bình phương và lấy trung bình theo lớp, là dạng mà chẳng hạn `DiceLoss` của thư viện segmentation_models_pytorch dùng; thư viện này còn đặt bằng 0 số hạng của lớp không có trong nhãn của batch). Mỗi lớp đóng góp như nhau bất kể nó chiếm bao nhiêu điểm ảnh: đó là lý do Dice được đề xuất cho dữ liệu mất cân bằng (mục 7b đo điều đó).
# * **Focal** (Lin và cộng sự, arXiv 1708.02002): $\ \mathcal{L}_{focal} = -(1-p_y)^{\gamma}\log p_y$. Hệ số $(1-p_y)^\gamma$ làm nhỏ đóng góp của các điểm ảnh đã được đoán đúng với xác suất cao (nền dễ), để gradient tập trung vào các điểm khó; $\gamma = 0$ cho lại entropy chéo. Bài báo còn nhân thêm một trọng số lớp $\alpha_t$ (công thức 5; các thí nghiệm dùng $\gamma = 2$ và $\alpha = 0{,}25$); `src.losses.focal_loss` có nó qua tham số `alpha=` (chỉ cho hai lớp; mặc định: không dùng).
#
# Hình dưới vẽ mất mát của **một** điểm ảnh có nhãn 1 theo xác suất dự đoán $p$, tính bằng chính các hàm trong `src.losses`.

# %% [markdown] lang="en"
# ## 7. Loss functions
#
# With $p_c$ the probability the model gives class $c$ at a pixel whose label (true class) is $y$:
#
# * **Cross-entropy** (softmax, multi-class): $\ \mathcal{L}_{CE} = -\log p_y$, averaged over pixels (label 255 ignored); class weights $w_y$ optional.
# * **Binary cross-entropy** (one logit $z$, sigmoid $p = \sigma(z)$): $\ \mathcal{L}_{BCE} = -[\,y\log p + (1-y)\log(1-p)\,]$. For two classes, one output channel with a sigmoid is equivalent to a two-channel softmax with $z = z_1 - z_0$ (the cell below verifies it), but leaner: it is what the DeepLab notes this course grows from use for binary segmentation (`DeepLabV3(num_classes=1, ...)`: one logit per pixel).
# * **Dice** (Milletari et al., V-Net, arXiv 1606.04797): $\ \mathcal{L}_{Dice} = 1 - \frac{1}{C}\sum_c \frac{2\sum_i p_{ic} g_{ic} + s}{\sum_i p_{ic} + \sum_i g_{ic} + s}$, with $g$ the one-hot labels and $s$ a smoothing constant (V-Net's Eq. 1 is the one-class version with squares in the denominator, $\sum_i p_i^2 + \sum_i g_i^2$; the form above, without squares and averaged over classes, is for instance the one of `DiceLoss` in the segmentation_models_pytorch library, which also sets to 0 the term of a class absent from the batch's labels). Each class counts the same however many pixels it covers: that is why Dice was proposed for imbalanced data (section 7b measures it).
# * **Focal** (Lin et al., arXiv 1708.02002): $\ \mathcal{L}_{focal} = -(1-p_y)^{\gamma}\log p_y$. The factor $(1-p_y)^\gamma$ shrinks the contribution of pixels that are already confidently right (easy background), so the gradient concentrates on the hard ones; $\gamma = 0$ gives cross-entropy back. The paper also multiplies by a class weight $\alpha_t$ (its Eq. 5; $\gamma = 2$ and $\alpha = 0.25$ in its experiments); `src.losses.focal_loss` has it as `alpha=` (two classes only; default: none).
#
# The figure below plots the loss of **one** pixel labelled 1 against the predicted probability $p$, computed with the functions of `src.losses` themselves.

# %%
p = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)
logit = torch.log(p / (1 - p)).view(-1, 1, 1, 1)  # one pixel per "image"
one = torch.ones(1, 1, 1, dtype=torch.long)
curves = {
    tr("BCE (= entropy chéo)", "BCE (= cross-entropy)"): [losses.bce_with_logits(z[None], one).item() for z in logit],
    "focal, γ = 1": [losses.focal_loss(z[None], one, gamma=1).item() for z in logit],
    "focal, γ = 2": [losses.focal_loss(z[None], one, gamma=2).item() for z in logit],
    "Dice (s = 0)": [losses.dice_loss(z[None], one, smooth=0).item() for z in logit],
}
fig, ax = plt.subplots(figsize=(5, 3.2))
for label, values in curves.items():
    ax.plot(p, values, label=label)
ax.set(
    xlabel=tr("xác suất dự đoán cho lớp đúng $p$", "predicted probability of the true class $p$"),
    ylabel=tr("mất mát", "loss"),
    ylim=(0, 3),
)
ax.legend()
plt.tight_layout()
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
# a two-channel softmax is a one-logit sigmoid in disguise: z = z1 - z0
g = torch.Generator().manual_seed(0)
two = torch.randn(2, 2, 5, 5, generator=g)
target = torch.randint(0, 2, (2, 5, 5), generator=g)
ce = losses.cross_entropy(two, target)
bce = losses.bce_with_logits(two[:, 1] - two[:, 0], target)
print(src.decimal_commas(f"softmax CE = {ce.item():.6f}, sigmoid BCE on z1 - z0 = {bce.item():.6f}"))

# %% [markdown] lang="vi"
# ### Bài tập 03-3 — hàm mất mát Dice
#
# Viết `dice_loss(logits, target, smooth=1.0)` cho nhiều lớp: `logits` có dạng $N\times C\times H\times W$, `target` là nhãn nguyên $N\times H\times W$ (không có nhãn 255). Lấy softmax theo kênh, đổi `target` thành one-hot cùng dạng với xác suất (`F.one_hot(...).permute(0, 3, 1, 2)`), với mỗi lớp cộng trên các chiều $(0, 2, 3)$ (cả batch), tính hệ số Dice rồi trả về $1 -$ trung bình của các lớp.

# %% [markdown] lang="en"
# ### Exercise 03-3 — the Dice loss
#
# Write `dice_loss(logits, target, smooth=1.0)` for many classes: `logits` is $N\times C\times H\times W$, `target` holds integer labels $N\times H\times W$ (no 255 label). Take the softmax over channels, turn `target` into one-hot with the probabilities' layout (`F.one_hot(...).permute(0, 3, 1, 2)`), sum per class over dimensions $(0, 2, 3)$ (the whole batch), compute the Dice coefficient and return $1 -$ its mean over classes.


# %%
def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    ### BEGIN SOLUTION
    probs = logits.softmax(dim=1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    intersection = (probs * onehot).sum(dim=(0, 2, 3))
    dice = (2 * intersection + smooth) / (probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3)) + smooth)
    return 1 - dice.mean()
    ### END SOLUTION


# %%
result = checks.check_dice_loss(dice_loss)

# %% [markdown] lang="vi"
# **Mất cân bằng lớp.** Trong bức ghép `shapes`, nền chiếm phần lớn điểm ảnh. Ô dưới in tỉ lệ các lớp trên tập huấn luyện, rồi chấm một "mô hình" lười luôn đoán nền (logit lớn cho nền) bằng từng hàm mất mát. Entropy chéo và focal là trung bình trên các điểm ảnh, nên phần lớn giá trị của chúng đến từ phần nhỏ điểm ảnh thuộc các hình; còn Dice là trung bình trên các **lớp**: ba lớp hình có Dice gần 0, nên mất mát Dice của mô hình này không thể xuống dưới khoảng 3/4, dù nó tự tin về nền đến đâu. So các giá trị in ra với 0, giá trị của một mô hình hoàn hảo.

# %% [markdown] lang="en"
# **Class imbalance.** In the `shapes` mosaics the background covers most pixels. The cell below prints the class shares on the training set, then scores a lazy "model" that always predicts background (a large background logit) with each loss. Cross-entropy and focal are averages over pixels, so most of their value comes from the small share of pixels that belong to shapes; Dice is an average over **classes**: the three shape classes have a Dice near 0, so this model's Dice loss cannot drop below about 3/4, however confident it is about the background. Compare the printed values with 0, the value of a perfect model.

# %%
# NBVAL_CHECK_OUTPUT
shapes_train = TextureMosaics("shapes", "train")
masks = torch.as_tensor(shapes_train.masks[:64]).long()
share = torch.bincount(masks.flatten(), minlength=4).double() / masks.numel()
print(src.format_value(dict(zip(shapes_train.class_names, share.tolist())), 3))
lazy = torch.zeros(len(masks), 4, *masks.shape[1:])
lazy[:, 0] = 4.0  # p(background) ≈ 0.95 everywhere
for name, fn in [("cross-entropy", losses.cross_entropy), ("focal γ=2", losses.focal_loss), ("Dice", losses.dice_loss)]:
    print(
        f"{name:13s}",
        tr("của mô hình luôn đoán nền:", "of the always-background model:"),
        src.format_number(fn(lazy, masks).item()),
    )

# %% [markdown] lang="vi"
# ### 7b. Huấn luyện với từng hàm mất mát trên một bài toán mất cân bằng
#
# Mô hình lười ở trên chỉ cho thấy các hàm mất mát **chấm** khác nhau; còn khi **huấn luyện** thì sao? Dữ liệu `binary_small` (xem `data/README.md`) là một bức ghép của bốn loại vân không phải cỏ, với 1–3 hình tròn cỏ nhỏ (bán kính bằng 6–11 % cạnh ảnh) mang nhãn 1: tiền cảnh chỉ chiếm vài phần trăm điểm ảnh (ô dưới in tỉ lệ đó). Ta huấn luyện **cùng** một mạng nhỏ (`src.loss_probe.LossProbe`: phần thân của `ContextProbe`, output stride 4, một logit), cùng khởi tạo, cùng số bước; chỉ hàm mất mát khác nhau: entropy chéo nhị phân (`bce`), Dice ($s = 1$) và focal ($\gamma = 2$, không có $\alpha$). Thước đo là **IoU của tiền cảnh** trên tập kiểm định (ngưỡng logit $> 0$), vì mIoU hai lớp bị lớp nền, vốn gần như luôn đúng, kéo lên. Thí nghiệm đầy đủ (`experiments/loss_imbalance.py`, 5 hạt giống) được ghi trong `src/results/loss_imbalance.json`; ô dưới chạy một phiên bản nhỏ, một hạt giống, và in thống kê $t$ của Welch của Dice và focal so với BCE, tính từ bản ghi.

# %% [markdown] lang="en"
# ### 7b. Training with each loss on an imbalanced task
#
# The lazy model above only shows that the losses **score** differently; what happens when we **train** with them? The `binary_small` data (see `data/README.md`) is a mosaic of the four non-grass textures with 1–3 small grass discs (radius 6–11 % of the side) labelled 1: the foreground is only a few per cent of the pixels (the cell below prints the share). We train the **same** small network (`src.loss_probe.LossProbe`: the `ContextProbe` trunk, output stride 4, one logit), same initialisation, same number of steps; only the loss differs: binary cross-entropy (`bce`), Dice ($s = 1$) and focal ($\gamma = 2$, no $\alpha$). The metric is the **foreground IoU** on the validation split (threshold logit $> 0$), because a two-class mIoU is propped up by the background, which is almost always right. The full experiment (`experiments/loss_imbalance.py`, 5 seeds) is recorded in `src/results/loss_imbalance.json`; the cell below runs a small version, one seed, and prints Welch's $t$ of Dice and of focal against BCE, computed from the record.

# %%
from src import claims, record

LIVE_SCALE = 1.0 if claims.full_protocol() else 0.35
live_losses, loss_models, small_val = claims.run("loss_imbalance", seed=0, scale=LIVE_SCALE, return_models=True)
loss_record = record.load("loss_imbalance")
share = float((small_val.dataset.masks == 1).mean())
percent = record.format_number(100 * share, 1)
print(tr(f"tiền cảnh: {percent} % điểm ảnh của tập kiểm định", f"foreground: {percent} % of the validation pixels"))
print(loss_record.verdict())
loss_live = loss_record.data["live"]["groups"]
loss_table = pd.DataFrame(
    {
        tr("lần chạy này (1 hạt giống)", "this run (1 seed)"): {
            g: record.format_number(v) for g, v in live_losses.items()
        },
        tr("bản ghi, cùng cỡ nhỏ", "record, same small size"): {
            g: record.format_mean_std(loss_live[g]) if g in loss_live else "" for g in live_losses
        },
        tr("bản ghi, giao thức đầy đủ", "record, full protocol"): {
            g: record.format_mean_std(v) for g, v in loss_record.groups.items()
        },
        tr("t so với bce (bản ghi)", "t vs bce (record)"): {
            g: record.format_number(record.welch_t(v, loss_record.groups["bce"]), 1) if g != "bce" else ""
            for g, v in loss_record.groups.items()
        },
    }
)
loss_table.index.name = tr("IoU tiền cảnh", "foreground IoU")
for g in loss_record.groups:
    if g != "bce":
        t = record.welch_t(loss_record.groups[g], loss_record.groups["bce"])
        verdict = (
            tr("vượt ngưỡng t >= 2", "clears t >= 2")
            if abs(t) >= 2
            else tr("không đo được khác biệt (|t| < 2)", "no measurable difference (|t| < 2)")
        )
        better = tr("cao hơn", "higher") if t > 0 else tr("thấp hơn", "lower")
        print(
            tr(
                f"{g} so với bce: IoU tiền cảnh {better}, t = {record.format_number(t, 1)}: {verdict}",
                f"{g} vs bce: foreground IoU {better}, t = {record.format_number(t, 1)}: {verdict}",
            )
        )
loss_table

# %%
images, masks = next(iter(small_val))
small = small_val.dataset
fig, axes = plt.subplots(len(loss_models) + 1, 4, figsize=(6.4, 6.8))
for col in range(4):
    axes[0, col].imshow(viz.overlay(small.images[col], masks[col], small.palette))
    for row, model in enumerate(loss_models.values(), start=1):
        axes[row, col].imshow(viz.overlay(small.images[col], predict(model, images[:4])[col], small.palette))
axes[0, 0].set_ylabel(tr("nhãn", "label"))
for row, name in enumerate(loss_models, start=1):
    axes[row, 0].set_ylabel(name, fontsize=8)
for ax in axes.flat:
    ax.set_xticks([]), ax.set_yticks([])
fig.legend(handles=viz.legend_handles(small.class_names, small.palette), loc="lower center", ncol=2, fontsize=8)
plt.tight_layout(rect=(0, 0.05, 1, 1))
plt.show()

# %% [markdown] lang="vi"
# **Đọc kết quả.** Chỉ những so sánh in "vượt ngưỡng t >= 2" là hiệu ứng đo được (trên IoU tiền cảnh, 5 hạt giống); các so sánh còn lại là "không đo được khác biệt". Trên hình, so các vùng tô màu cỏ của từng hàng với hàng nhãn: một hàm mất mát lấy trung bình trên điểm ảnh (BCE, focal) được lợi nhiều nhất khi đoán nền ở những chỗ còn chưa chắc, vì nền chiếm gần hết điểm ảnh; Dice chấm riêng lớp tiền cảnh, nên bỏ sót một hình tròn cỏ bị phạt nặng bất kể nó nhỏ đến đâu; cái giá của điều đó cũng có thể thấy trên hình, dưới dạng cỏ được dự đoán ở những vùng không phải cỏ. Con số tuyệt đối thấp ở các ngân sách này (giao thức đầy đủ, huấn luyện lâu hơn, cho số cao hơn giao thức nhỏ); điều đáng đọc là chênh lệch so với nhiễu giữa các hạt giống.

# %% [markdown] lang="en"
# **Reading the results.** Only the comparisons printed as "clears t >= 2" are measured effects (on foreground IoU, 5 seeds); the others are "no measurable difference". In the figure, compare each row's grass-coloured areas with the label row: a loss averaged over pixels (BCE, focal) gains most by predicting background wherever it is unsure, since the background is nearly all the pixels; Dice scores the foreground class on its own, so missing a grass disc costs a lot however small it is; the price can show too, as grass predicted on areas that are not grass. The absolute numbers are low at these budgets (the full protocol, with longer training, is higher than the small one); what to read is the gap against the seed-to-seed noise.

# %% [markdown] lang="vi"
# ## 8. Thí nghiệm loại bỏ: ngữ cảnh toàn cục trên `cue`
#
# Một thí nghiệm loại bỏ (*ablation*) chỉ có ý nghĩa khi mô-đun đem ra so sánh **có thể** giúp ích trong thiết lập đó. Bộ dữ liệu `cue` (xem `data/README.md`) được dựng như vậy: các hình tròn xám có vân, và ở **một góc** ảnh một ô vuông đỏ hoặc xanh lam, màu duy nhất trong ảnh; mọi hình tròn mang lớp 1 nếu ô màu đỏ, lớp 2 nếu xanh lam. Nhìn cục bộ, một hình tròn trông như nhau dưới cả hai dấu hiệu: chỉ một cái nhìn toàn cục mới đọc được lớp. Ta so ba mạng nhỏ (`src.claims.ContextProbe`) có **cùng** phần thân (bốn tích chập, output stride 4, bản đồ đặc trưng $16\times16$, trường tiếp nhận 23 điểm ảnh, in ra ở ô dưới), cùng khởi tạo và cùng số bước huấn luyện; chỉ mô-đun ngữ cảnh khác nhau:
#
# | tên | mô-đun ngữ cảnh |
# |---|---|
# | `none` | không có: một tích chập $1\times1$ |
# | `aspp` | ASPP đầy đủ (`src.aspp.ASPP`), hệ số giãn $(2, 4, 6)$, có nhánh đặc trưng mức ảnh |
# | `pyramid_pooling` | gộp kim tự tháp của PSPNet, các ô $(1, 2, 4)$ |
#
# Hệ số giãn $(2, 4, 6)$ nhỏ hơn cạnh $16$ của bản đồ, nên không nhánh nào thoái hoá (bài 02). Thí nghiệm đầy đủ (`experiments/context_cue.py`: 256 ảnh, 10 epoch, 5 hạt giống ngẫu nhiên) được ghi lại trong `src/results/context_cue.json`; ô dưới chạy một phiên bản nhỏ (ít ảnh và epoch hơn, một hạt giống) ngay trong notebook và đặt nó cạnh bản ghi. Trên GPU hoặc với `SRC_FULL=1`, ô này chạy đúng giao thức đầy đủ.

# %% [markdown] lang="en"
# ## 8. Ablation: global context on `cue`
#
# An ablation says something only when the compared module **can** help in its setting. The `cue` data (see `data/README.md`) is built that way: grey textured discs, and in **one** corner of the image a red or blue square, the image's only colour; every disc has class 1 when the square is red, class 2 when it is blue. Locally a disc looks the same under either cue: only a global view reads the class. We compare three small networks (`src.claims.ContextProbe`) with the **same** trunk (four convolutions, output stride 4, a $16\times16$ feature map, receptive field 23 pixels, printed by the cell below), the same initialisation and the same number of training steps; only the context module differs:
#
# | name | context module |
# |---|---|
# | `none` | none: a $1\times1$ convolution |
# | `aspp` | full ASPP (`src.aspp.ASPP`), rates $(2, 4, 6)$, with the image-level branch |
# | `pyramid_pooling` | PSPNet's pyramid pooling, bins $(1, 2, 4)$ |
#
# The rates $(2, 4, 6)$ are below the map's side of $16$, so no branch is degenerate (lesson 02). The full experiment (`experiments/context_cue.py`: 256 images, 10 epochs, 5 seeds) is recorded in `src/results/context_cue.json`; the cell below runs a small version (fewer images and epochs, one seed) right here and puts it next to the record. On a GPU or with `SRC_FULL=1`, the cell runs the full protocol instead.

# %%
from src import claims, record
from src.receptive_field import receptive_field

LIVE_SCALE = 1.0 if claims.full_protocol() else 0.35
live, live_models, cue_val = claims.run("context_cue", seed=0, scale=LIVE_SCALE, return_models=True)
trunk_rf = receptive_field(claims.ContextProbe(3).trunk, 64).size
print(tr(f"trường tiếp nhận của phần thân: {trunk_rf} điểm ảnh", f"receptive field of the trunk: {trunk_rf} px"))
recorded = record.load("context_cue")
recorded_live = recorded.data["live"]["groups"]
table = pd.DataFrame(
    {
        tr("lần chạy này (1 hạt giống)", "this run (1 seed)"): {g: record.format_number(v) for g, v in live.items()},
        tr("bản ghi, cùng cỡ nhỏ", "record, same small size"): {
            g: record.format_mean_std(recorded_live[g]) if g in recorded_live else "" for g in live
        },
        tr("bản ghi, giao thức đầy đủ", "record, full protocol"): {
            g: record.format_mean_std(v) for g, v in recorded.groups.items()
        },
    }
)
table.index.name = "val mIoU"
print(recorded.verdict())
table

# %%
images, masks = next(iter(cue_val))
dataset = cue_val.dataset
predictions = {name: predict(model, images[:4]) for name, model in live_models.items()}
fig, axes = plt.subplots(len(live_models) + 1, 4, figsize=(6.4, 6.8))
for col in range(4):
    axes[0, col].imshow(viz.overlay(dataset.images[col], masks[col], dataset.palette))
    for row, name in enumerate(live_models, start=1):
        axes[row, col].imshow(viz.overlay(dataset.images[col], predictions[name][col], dataset.palette))
axes[0, 0].set_ylabel(tr("nhãn", "label"))
for row, name in enumerate(live_models, start=1):
    axes[row, 0].set_ylabel(name, fontsize=8)
for ax in axes.flat:
    ax.set_xticks([]), ax.set_yticks([])
fig.legend(handles=viz.legend_handles(dataset.class_names, dataset.palette), loc="lower center", ncol=3, fontsize=8)
plt.tight_layout(rect=(0, 0.05, 1, 1))
plt.show()

# %% [markdown] lang="vi"
# **Đọc kết quả.** Dòng in phía trên bảng là kết luận của bản ghi: nó chỉ nêu hiệu ứng khi thống kê $t$ của Welch (chênh lệch trung bình chia cho sai số chuẩn của nó, qua 5 hạt giống) đạt ít nhất 2; nếu không, nó nói rõ là không đo được khác biệt. Cột "lần chạy này" là một hạt giống với ngân sách nhỏ của notebook: đặt nó cạnh cột "bản ghi, cùng cỡ nhỏ" (cùng ngân sách, 5 hạt giống) để thấy một lần chạy dao động bao nhiêu, và cạnh giao thức đầy đủ để thấy huấn luyện lâu hơn thay đổi gì. Trên hình, so hàng `none` với các hàng có ngữ cảnh toàn cục: một mô hình không thấy được góc ảnh có thể tìm đúng vị trí các hình tròn nhưng không có cách nào biết lớp của chúng. Ở ngân sách nhỏ của notebook (một hạt giống), các hàng có ngữ cảnh toàn cục cũng có thể chưa đúng ở mọi chỗ: một hình tròn, hay cả một ảnh, có thể nhận lớp của dấu hiệu kia; cột giao thức đầy đủ cho thấy huấn luyện lâu hơn đưa chúng tới đâu. Bài học chung: một thí nghiệm loại bỏ chỉ có ý nghĩa khi mô-đun có thể hoạt động trong thiết lập (dữ liệu cần đến nó, hệ số giãn nhỏ hơn bản đồ) và khi mức chênh lớn hơn nhiễu giữa các hạt giống.

# %% [markdown] lang="en"
# **Reading the results.** The line printed above the table is the record's verdict: it states the effect only when Welch's $t$ statistic (the difference of the means divided by its standard error, over 5 seeds) is at least 2; otherwise it says plainly that no difference was measured. The "this run" column is one seed at the notebook's small budget: compare it with the "record, same small size" column (the same budget, 5 seeds) to see how much one run varies, and with the full protocol to see what longer training changes. In the figure, compare the `none` row with the rows that have global context: a model that cannot see the corner may find where the discs are, but has no way to know their class. At the notebook's small budget (one seed) the rows with global context may not be right everywhere either: a disc, or a whole image, can take the other cue's class; the full-protocol column shows where longer training takes them. The general lesson: an ablation means something only when the module can work in its setting (data that needs it, rates below the map's side) and the gap is larger than the seed-to-seed noise.

# %% [markdown] lang="vi"
# ## Ghi nhớ
#
# * DeepLabv3 = mạng xương sống giãn (OS 16 hoặc 8) + ASPP (nhánh $1\times1$, các nhánh giãn, nhánh đặc trưng mức ảnh, tất cả có BN) + phóng to song tuyến; hệ số giãn gấp đôi khi OS giảm một nửa.
# * Nhánh mức ảnh bù cho các nhánh giãn khi hệ số giãn gần bằng kích thước bản đồ đặc trưng; BN của nó cần xử lý riêng khi batch chỉ có một ảnh.
# * Tích chập giãn không thêm tham số nhưng làm bản đồ đặc trưng lớn hơn: OS 8 đắt hơn OS 16 về tính toán và bộ nhớ (bài 02).
# * Gộp kim tự tháp (PSPNet) là một cách khác để đưa ngữ cảnh vào; mức $1\times1$ của nó chính là đặc trưng mức ảnh.
# * Entropy chéo nhị phân với một logit tương đương softmax hai lớp; Dice và focal được thiết kế cho dữ liệu mất cân bằng lớp. Trên `binary_small` (mục 7b, 5 hạt giống, IoU tiền cảnh), Dice tốt hơn BCE với mức chênh đo được; focal ($\gamma = 2$, không có $\alpha$) không cho khác biệt đo được so với BCE. Các con số và $t$ in ở mục 7b.
# * Một thí nghiệm loại bỏ cần: một thiết lập mà mô-đun có thể giúp (dữ liệu cần đến nó, hệ số giãn nhỏ hơn cạnh bản đồ), cùng ngân sách cho mọi biến thể, và biết mức nhiễu giữa các hạt giống.

# %% [markdown] lang="en"
# ## Key takeaways
#
# * DeepLabv3 = a dilated backbone (OS 16 or 8) + ASPP ($1\times1$ branch, dilated branches, image-level branch, all with BN) + bilinear upsampling; the rates double when OS halves.
# * The image-level branch makes up for the dilated branches when the rate approaches the feature-map size; its BN needs special care when a batch holds one image.
# * Dilated convolution adds no parameters but makes feature maps larger: OS 8 costs more compute and memory than OS 16 (lesson 02).
# * Pyramid pooling (PSPNet) is another way to bring in context; its $1\times1$ level is the image-level feature.
# * Binary cross-entropy on one logit is equivalent to a two-class softmax; Dice and focal are designed for class imbalance. On `binary_small` (section 7b, 5 seeds, foreground IoU), Dice beat BCE measurably; focal ($\gamma = 2$, no $\alpha$) showed no measurable difference from BCE. The numbers and $t$ are printed in section 7b.
# * An ablation needs: a setting where the module can help (data that needs it, rates below the map's side), the same budget for every variant, and a known seed-to-seed noise level.

# %% [markdown] lang="vi"
# ## Tài liệu tham khảo
#
# * L.-C. Chen, G. Papandreou, I. Kokkinos, K. Murphy, A. Yuille. *Semantic Image Segmentation with Deep Convolutional Nets and Fully Connected CRFs* (DeepLab v1). arXiv 1412.7062.
# * L.-C. Chen và cộng sự. *DeepLab: Semantic Image Segmentation with Deep Convolutional Nets, Atrous Convolution, and Fully Connected CRFs* (DeepLab v2). arXiv 1606.00915.
# * L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. *Rethinking Atrous Convolution for Semantic Image Segmentation* (DeepLab v3). arXiv 1706.05587.
# * H. Zhao, J. Shi, X. Qi, X. Wang, J. Jia. *Pyramid Scene Parsing Network* (PSPNet). arXiv 1612.01105.
# * K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition* (ResNet). arXiv 1512.03385.
# * G. Huang, Z. Liu, L. van der Maaten, K. Weinberger. *Densely Connected Convolutional Networks* (DenseNet). arXiv 1608.06993.
# * F. Milletari, N. Navab, S.-A. Ahmadi. *V-Net* (hàm mất mát Dice). arXiv 1606.04797.
# * T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár. *Focal Loss for Dense Object Detection*. arXiv 1708.02002.
# * Mã nguồn `torchvision/models/segmentation/deeplabv3.py` (mẫu cho cấu trúc mô-đun của `src.aspp`).

# %% [markdown] lang="en"
# ## References
#
# * L.-C. Chen, G. Papandreou, I. Kokkinos, K. Murphy, A. Yuille. *Semantic Image Segmentation with Deep Convolutional Nets and Fully Connected CRFs* (DeepLab v1). arXiv 1412.7062.
# * L.-C. Chen et al. *DeepLab: Semantic Image Segmentation with Deep Convolutional Nets, Atrous Convolution, and Fully Connected CRFs* (DeepLab v2). arXiv 1606.00915.
# * L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. *Rethinking Atrous Convolution for Semantic Image Segmentation* (DeepLab v3). arXiv 1706.05587.
# * H. Zhao, J. Shi, X. Qi, X. Wang, J. Jia. *Pyramid Scene Parsing Network* (PSPNet). arXiv 1612.01105.
# * K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition* (ResNet). arXiv 1512.03385.
# * G. Huang, Z. Liu, L. van der Maaten, K. Weinberger. *Densely Connected Convolutional Networks* (DenseNet). arXiv 1608.06993.
# * F. Milletari, N. Navab, S.-A. Ahmadi. *V-Net* (the Dice loss). arXiv 1606.04797.
# * T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár. *Focal Loss for Dense Object Detection*. arXiv 1708.02002.
# * The source of `torchvision/models/segmentation/deeplabv3.py` (the model for `src.aspp`'s module structure).
